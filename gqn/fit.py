"""`gqn fit`: fine-tune a trained model to the views of one scene.

Each training view is a query rendered from the views nearest to it; a few held-out views measure
it against the nearest-photo and plane-sweep baselines at every checkpoint. Same loop, checkpoints and --resume as
`gqn train`.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch

from gqn.baselines import nearest_photo, plane_sweep
from gqn.checkpoint import read_model_folder
from gqn.config import ModelConfig
from gqn.data.images import fit_image, working_size
from gqn.data.normalize import SceneFrame, transform_views
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.evaluate_capture import held_out_indices
from gqn.metrics import psnr
from gqn.shipped import model_path
from gqn.nn.model import frame_for, input_points
from gqn.train import BatchSampler, TrainingSession


FIT_STEPS = 300
FIT_CROP = 64          # query windows of 64 px: a 128-px photo model trains about 4× faster than on whole photos
FIT_CHECKPOINTS = 10   # checkpoints (validations, app previews) in a run unless --checkpoint-every says otherwise
TIMING_PASSES = 3  # forward/backward passes of one batch per number of contexts, the last timed, to size a schedule
                   # to --max-minutes: a step costs 1.7× more with 5 contexts than with 3, and a shape's first passes
                   # are slower (3 random batches, timed once, had planned milk's 10-minute fit to end after 6.3)
TIME_MARGIN = 0.85  # of --max-minutes the sized schedule plans to use (Adam, checkpoints, the last validation).
                    # Measured on 10-minute fits of the photo model (run 5): they end after 77 % and 82 % of the
                    # time; run 3's, sized from cruder timings, at 0.95 had hit the limit at step 506 of 512
FIT_SIGMA = 0.7   # the likelihood's pixel noise for a model that does not record where its training ended


@dataclass
class OneScene:
    """One ViewSet in the shape of a SceneDataset (one scene), for the BatchSampler."""

    images: np.ndarray
    c2w: np.ndarray
    intrinsics: np.ndarray
    path: str
    points: np.ndarray | None = None    # [1,M,3] in model space, at most what predict reads

    @classmethod
    def of(cls, views: ViewSet) -> "OneScene":
        points = None   # the views (and so their points) are in model space already
        if views.points is not None and len(views.points):
            points = input_points(views.points)[None].astype(np.float32)
        return cls(views.images[None], views.c2w[None], views.intrinsics[None], str(views.source), points)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model folder or training run to start from; default: the shipped model "
                        "that suits the scene (photo captures: resources/models/photo)")
    parser.add_argument("--views", required=True, help="the scene: any path `gqn info` reads")
    parser.add_argument("--scene", type=int, default=None, help="scene index, when --views is a dataset")
    parser.add_argument("--out", required=True, help="run folder for the fitted model")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"training steps (default {FIT_STEPS}; with --max-minutes alone, as many as fit in that time)")
    parser.add_argument("--until", type=int, default=None, help="stop at this step (checkpoint written)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--holdout", type=int, default=2, help="views kept out of training to validate on")
    parser.add_argument("--holdout-every", type=int, default=None, metavar="N",
                        help="hold out the photos `gqn evaluate --views` scores instead (every Nth by name, see "
                             "--holdout-start), so that evaluating the fitted model is fair")
    parser.add_argument("--holdout-start", type=int, default=2, help="with --holdout-every: the first held-out position")
    parser.add_argument("--max-contexts", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=4, help="prior samples per held-out view when validating")
    parser.add_argument("--checkpoint-every", type=int, default=None,
                        help=f"steps between checkpoints (each validated; default: {FIT_CHECKPOINTS} in the run)")
    parser.add_argument("--log-every", type=int, default=5)
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--crop", type=int, default=FIT_CROP,
                        help=f"train on random windows of this long side in pixels (default {FIT_CROP}: a photo's "
                             "every part, at a fraction of the cost of whole photos)")
    parser.add_argument("--sigma", type=float, nargs=2, default=None, metavar=("START", "END"),
                        help="pixel noise of the likelihood, annealed from START to END (default: where the "
                             "model's training ended)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--json", action="store_true", help="JSON lines on stdout")


def model_views(views: ViewSet, config: ModelConfig) -> tuple[ViewSet, SceneFrame]:
    """The capture in the model's space (as `GQN.predict` places it) with its photos at the size the
    model reads contexts at (config.context_scale × its resolution) in their own aspect, and the frame
    that placed it."""
    frame = frame_for(views, config)
    moved = transform_views(views, frame.transform)
    height, width = working_size(*views.size, config.context_side, config.r_scale)
    if (height, width) != views.size:
        moved.images = np.stack([fit_image(image, (height, width)) for image in views.images])
        moved.intrinsics = views.normalised_intrinsics() * [width, height, width, height]
    return moved, frame


def holdout_indices(count: int, holdout: int) -> np.ndarray:
    """`holdout` views spread evenly through the scene."""
    if holdout < 0 or count - holdout < 2:
        raise GQNError(f"a scene of {count} views cannot keep {holdout} out: training needs at least 2")
    return np.linspace(0, count, holdout, endpoint=False).astype(int) + count // (2 * max(holdout, 1))


def run(args: argparse.Namespace) -> int:
    from gqn.data.load import load_views

    views = load_views(args.views, scene=args.scene)
    args.model = model_path(args.model, views)
    config, weights = read_model_folder(args.model)
    if args.sigma is None:
        args.sigma = (config.trained_on.get("sigma", FIT_SIGMA),) * 2
    if args.holdout_every is not None:
        held = held_out_indices(views.names, args.holdout_every, args.holdout_start)[0]
    else:
        held = holdout_indices(len(views), args.holdout)
    train_views = views[np.setdiff1d(np.arange(len(views)), held)]
    held_views = views[held]
    placed, frame = model_views(train_views, config)

    def new_config():
        # Training sees the capture in model space, over the capture's own depth range (predict finds
        # the same frame and range from the same photos).
        return dataclasses.replace(config, epipolar_near=frame.near, epipolar_far=frame.far,
                                   trained_on={**config.trained_on, "fitted_to": str(views.source),
                                               "fitted_views": len(train_views)})

    session = TrainingSession.start(args, new_config, initial_weights=weights)
    model = session.model
    held_intrinsics = held_views.normalised_intrinsics()
    size = working_size(*views.size, config.image_size)

    def validate(step: int) -> dict:
        """PSNR of the mean of prior samples on the held-out views, of the nearest training photo
        and of plane-sweep rendering from the training photos."""
        if len(held_views) == 0:
            return {}
        model.eval()
        scores = {"psnr": [], "baseline_nearest_psnr": [], "baseline_ibr_psnr": []}
        encoding = model.encode_views(train_views)
        for i in range(len(held_views)):
            truth = fit_image(held_views.images[i], size)
            drawn = model.sample_views(encoding, held_views.c2w[i], args.samples, args.seed, held_intrinsics[i], size)
            guesses = {"psnr": drawn[0].astype(np.float32).mean(0),
                       "baseline_nearest_psnr": nearest_photo(train_views, held_views.c2w[i], held_intrinsics[i], size),
                       "baseline_ibr_psnr": plane_sweep(train_views, held_views.c2w[i], held_intrinsics[i], size)}
            for key, guess in guesses.items():
                scores[key].append(psnr(guess / 255.0, truth / 255.0))
        model.train()
        return {**{key: float(np.mean(values)) for key, values in scores.items()}, "validated_on": len(held_views)}

    sampler = BatchSampler(OneScene.of(placed), model.config, args.max_contexts, nearest=True, crop=session.config.crop)
    if args.steps is None and not session.step:
        session.config.steps = FIT_STEPS if args.max_minutes is None else sized_steps(
            session, sampler, args.max_minutes, validate if len(held_views) else None, args.checkpoint_every)
    if args.checkpoint_every is None and not session.step:
        session.config.checkpoint_every = max(1, session.config.steps // FIT_CHECKPOINTS)
    return session.optimise(sampler, validate)


def sized_steps(session: TrainingSession, sampler: BatchSampler, minutes: float, validate=None,
                checkpoint_every: int | None = None) -> int:
    """How many steps end in `minutes` at the speed measured now: a few forward/backward passes on
    batches from a generator of their own (the run's draws stay as they were; the gradients are
    thrown away), plus one validation per checkpoint (every `checkpoint_every` steps, or
    FIT_CHECKPOINTS in the run)."""
    model, config = session.model, session.config
    generator = torch.Generator().manual_seed(config.seed + 1)
    seconds = []
    for contexts in range(sampler.min_contexts, sampler.max_contexts + 1):   # as often as training draws each
        batch = sampler.draw(config.batch, generator, contexts)
        for _ in range(TIMING_PASSES):
            start = time.perf_counter()
            model(batch.context_images, batch.context_c2w, batch.context_intrinsics, batch.query_image,
                  batch.query_c2w, batch.query_intrinsics, config.sigma_end, batch.noise, batch.depth_range,
                  batch.points)["loss"].backward()
        seconds.append(time.perf_counter() - start)   # the last pass: the first ones of a shape are slower
    model.zero_grad(set_to_none=True)
    per_step, budget = float(np.mean(seconds)), minutes * 60 * TIME_MARGIN
    if validate is not None:
        start = time.perf_counter()
        validate(0)
        validation = time.perf_counter() - start
        if checkpoint_every is None:
            budget -= FIT_CHECKPOINTS * validation
        else:
            per_step += validation / checkpoint_every
    return max(1, int(budget / per_step))
