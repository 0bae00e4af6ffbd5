"""`gqn fit`: fine-tune a trained model to the views of one scene.

Random context/query splits of the scene's own views train it; a few held-out views measure it
against the nearest-photo baseline at every checkpoint. Same loop, checkpoints and --resume as
`gqn train`.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gqn import camera
from gqn.checkpoint import read_model_folder
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.metrics import psnr
from gqn.train import BatchSampler, TrainingSession


@dataclass
class OneScene:
    """One ViewSet in the shape of a SceneDataset (one scene), for the BatchSampler."""

    images: np.ndarray
    c2w: np.ndarray
    intrinsics: np.ndarray
    path: str

    @classmethod
    def of(cls, views: ViewSet) -> "OneScene":
        return cls(views.images[None], views.c2w[None], views.intrinsics[None], str(views.source))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model folder or training run to start from")
    parser.add_argument("--views", required=True, help="the scene: any path `gqn info` reads")
    parser.add_argument("--scene", type=int, default=None, help="scene index, when --views is a dataset")
    parser.add_argument("--out", required=True, help="run folder for the fitted model")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--until", type=int, default=None, help="stop at this step (checkpoint written)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--holdout", type=int, default=2, help="views kept out of training to validate on")
    parser.add_argument("--max-contexts", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=4, help="prior samples per held-out view when validating")
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--log-every", type=int, default=5)
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--json", action="store_true", help="JSON lines on stdout")


def model_views(views: ViewSet, trained_on: dict, size: int) -> ViewSet:
    """The scene as the model expects it: procedural scenes already are; photos are moved into model
    space (centred, z-up, cameras at the training radius) and cropped to the training field of view."""
    from gqn.data.normalize import to_model_input, to_model_space

    if views.meta.get("format") in ("procedural", "dataset", "gqn-datasets") and views.size == (size, size):
        return views
    radius = trained_on.get("camera_radius")
    moved = to_model_space(views, radius=radius)[0] if radius else views
    return to_model_input(moved, size, trained_on.get("fov_deg"))


def holdout_indices(count: int, holdout: int) -> np.ndarray:
    """`holdout` views spread evenly through the scene."""
    if holdout < 0 or count - holdout < 2:
        raise GQNError(f"a scene of {count} views cannot keep {holdout} out: training needs at least 2")
    return np.linspace(0, count, holdout, endpoint=False).astype(int) + count // (2 * max(holdout, 1))


def run(args: argparse.Namespace) -> int:
    from gqn.data.load import load_views

    config, weights = read_model_folder(args.model)
    views = model_views(load_views(args.views, scene=args.scene), config.trained_on, config.image_size)
    held = holdout_indices(len(views), args.holdout)
    train_views = views[np.setdiff1d(np.arange(len(views)), held)]
    held_views = views[held]

    def new_config():
        return dataclasses.replace(config, trained_on={**config.trained_on, "fitted_to": str(views.source),
                                                       "fitted_views": len(train_views)})

    session = TrainingSession.start(args, new_config, initial_weights=weights)
    model = session.model
    contexts = min(args.max_contexts, len(train_views))

    def validate(step: int) -> dict:
        """PSNR of the mean of prior samples on the held-out views, and of the nearest training photo."""
        if len(held_views) == 0:
            return {}
        model.eval()
        ours, nearest = [], []
        for i in range(len(held_views)):
            distance = np.linalg.norm(train_views.positions - held_views.positions[i], axis=-1)
            order = np.argsort(distance)
            query_intr = camera.normalise_intrinsics(held_views.intrinsics[i], *held_views.size[::-1])
            samples = model.predict(train_views[order[:contexts]], held_views.c2w[i:i + 1], samples=args.samples,
                                    seed=args.seed, query_intrinsics=query_intr)
            mean = samples[0].astype(np.float32).mean(0)
            ours.append(psnr(mean / 255.0, held_views.images[i] / 255.0))
            nearest.append(psnr(train_views.images[order[0]] / 255.0, held_views.images[i] / 255.0))
        model.train()
        return {"psnr": float(np.mean(ours)), "baseline_nearest_psnr": float(np.mean(nearest)),
                "validated_on": len(held_views)}

    return session.optimise(BatchSampler(OneScene.of(train_views), model.config, args.max_contexts), validate)
