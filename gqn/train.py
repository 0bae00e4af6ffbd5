"""`gqn train`: one training loop for one process or many (torchrun, DistributedDataParallel).

Reproducible and resumable by construction: every random draw (scenes, views, number of contexts,
posterior noise) comes from one torch.Generator that is saved in each checkpoint, and every process
draws the same *global* batch and trains on its own slice of it. So 20 steps straight equal
10 + resume + 10 bit for bit, and N processes equal one process on the combined batch.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn import functional as F

from gqn.baselines.nearest import nearest_views
from gqn.checkpoint import load_checkpoint, read_model_folder, save_checkpoint
from gqn.config import ModelConfig, TrainConfig, preset
from gqn.errors import GQNError
from gqn.data.images import working_size
from gqn.nn.generator import TRUST_SAMPLES
from gqn.nn.model import GQN, images_to_tensor
from gqn.progress import Progress, report

MEAN_IMAGE_SCENES = 512
PHOTO_WORLD = "photo-world"    # gqn.scenes.photo_world.KIND (not imported: it loads the renderer)
NEAREST_CONTEXT_SPREAD = 2     # nearest contexts are drawn from max_contexts − 2 .. max_contexts
CROP_ASPECTS = (1.0, 3 / 4, 4 / 3)   # width / height of query crops
POINTS_DROPPED = 0.3          # of training scenes are shown without their sparse points
MIN_POINT_DENSITY = 0.2       # the rest keep a uniform 20-100 % of their points
TRUST_LR_SCALE = 10.0         # the trust gate's learning rate over the model's (gqn.nn.generator)
DEPTH_RANGE_WIDENING = 0.5     # a stored (near, far) becomes (near·(1−a), far·(1+b)), a, b uniform below this
POSE_NOISE_DEGREES = 0.3       # photo-world contexts turn at random by this much (std per axis): real poses are never exact


def anneal(start: float, end: float, fraction: float, step: int, total: int) -> float:
    """Linear from `start` to `end` over the first `fraction` of `total` steps, then `end` (the paper's
    schedules, stretched to the run length)."""
    span = max(1.0, fraction * total)
    return end + (start - end) * max(0.0, 1.0 - step / span)


def turned_at_random(c2w: torch.Tensor, degrees: float, generator: torch.Generator) -> torch.Tensor:
    """Cameras [...,4,4] each turned about its own centre by a random rotation whose axis-angle vector
    is normal with `degrees` of spread per axis (in the camera's frame)."""
    angle = torch.randn(*c2w.shape[:-2], 3, generator=generator, dtype=c2w.dtype) * math.radians(degrees)
    x, y, z = angle.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*angle.shape[:-1], 3, 3)
    turned = c2w.clone()
    turned[..., :3, :3] = c2w[..., :3, :3] @ torch.linalg.matrix_exp(skew)
    return turned


@dataclass
class Batch:
    context_images: torch.Tensor      # [B,K,3,H,W]
    context_c2w: torch.Tensor         # [B,K,4,4]
    context_intrinsics: torch.Tensor  # [B,K,4] normalised
    query_image: torch.Tensor         # [B,3,H,W]
    query_c2w: torch.Tensor           # [B,4,4]
    query_intrinsics: torch.Tensor    # [B,4]
    noise: torch.Tensor               # [L,B,z,h,w]; [L·(1 + TRUST_SAMPLES),...] with a trust gate
    depth_range: torch.Tensor | None = None  # [B,2] each scene's (near, far); None: the model config's
    points: torch.Tensor | None = None       # [B,M,3] each scene's sparse points, NaN rows: none

    def slice(self, part: slice) -> "Batch":
        return Batch(*(None if t is None else t[:, part] if name == "noise" else t[part] for name, t in vars(self).items()))

    def to(self, device: torch.device) -> "Batch":
        return Batch(*(None if t is None else t.to(device) for t in vars(self).values()))


class BatchSampler:
    """Random (scene, context views, query view) batches from a SceneDataset's memmaps; images at the
    model's resolution (long side) in their own aspect. With `nearest`, the contexts are the 3 to
    max_contexts views nearest the query (as `GQN.predict` picks them), else 1 to max_contexts random
    ones. With `crop`, the query is a random window whose long side is `crop` pixels (square,
    portrait or landscape): a 128-px model trains at about the cost of a 64-px one, and learns every
    aspect. Scenes with a stored depth range (`SceneDataset.depth_range`) give it, widened at random
    as a capture's estimate would be. With `pose_noise` (degrees), every context camera turns about its
    centre by a random rotation of that spread per axis, so that the model learns to blend photos
    that do not line up exactly, as a real capture's never do."""

    def __init__(self, dataset, config: ModelConfig, max_contexts: int, nearest: bool = False,
                 crop: int | None = None, pose_noise: float = 0.0) -> None:
        self.dataset = dataset
        self.config = config
        self.nearest = nearest
        scenes, views, height, width = dataset.images.shape[:4]
        if views < 2:
            raise GQNError(f"{dataset.path}: scenes need at least 2 views to train (1 context + 1 query)")
        self.max_contexts = min(max_contexts, views - 1)
        self.min_contexts = max(1, self.max_contexts - NEAREST_CONTEXT_SPREAD) if nearest else 1
        self.scale = np.array([width, height, width, height], np.float64)
        # Contexts at config.context_scale times the query's scale, never upsampled: queries are read smaller.
        self.size = working_size(height, width, min(max(height, width), config.context_side), config.r_scale)
        self.crop = crop
        self.pose_noise = pose_noise
        self.depth_range = getattr(dataset, "depth_range", None)
        self.points = getattr(dataset, "points", None)

    def draw(self, batch: int, generator: torch.Generator, contexts: int | None = None) -> Batch:
        """A batch with `contexts` views per query (by default a random number, as in training)."""
        scenes, views = self.dataset.images.shape[:2]
        drawn = int(torch.randint(self.min_contexts, self.max_contexts + 1, (1,), generator=generator))
        k = drawn if contexts is None else contexts   # drawn either way: the rest of the batch is drawn as ever
        scene = torch.randint(0, scenes, (batch,), generator=generator).numpy()
        order = torch.argsort(torch.rand(batch, views, generator=generator), dim=1)[:, : k + 1].numpy()
        if self.nearest:   # the query, then the k views nearest to it
            order = np.stack([self.nearest_first(s, row[0], k) for s, row in zip(scene, order)])
        rows = scene[:, None]
        images = images_to_tensor(self.dataset.images[rows, order], self.size)
        c2w = torch.as_tensor(self.dataset.c2w[rows, order], dtype=torch.float32)
        intrinsics = torch.as_tensor(self.dataset.intrinsics[rows, order] / self.scale, dtype=torch.float32)
        query = 0 if self.nearest else k
        contexts = slice(1, None) if self.nearest else slice(0, k)
        query_image, query_intrinsics = images[:, query], intrinsics[:, query]
        if self.crop is not None or self.config.context_scale != 1:
            query_image, query_intrinsics = self.random_crop(query_image, query_intrinsics, generator)
        height, width = (side // self.config.r_scale for side in query_image.shape[-2:])
        draws = 1 + TRUST_SAMPLES * self.config.trust_gate   # the posterior's z, then the trust gate's prior samples
        noise = torch.randn(draws * self.config.steps, batch, self.config.z_channels, height, width, generator=generator)
        depth_range = None
        if self.depth_range is not None:
            widen = torch.rand(batch, 2, generator=generator).double().numpy() * DEPTH_RANGE_WIDENING
            depth_range = torch.as_tensor(self.depth_range[scene] * np.stack([1 - widen[:, 0], 1 + widen[:, 1]], 1),
                                          dtype=torch.float32)
        context_c2w = c2w[:, contexts]
        if self.pose_noise:
            context_c2w = turned_at_random(context_c2w, self.pose_noise, generator)
        return Batch(images[:, contexts], context_c2w, intrinsics[:, contexts], query_image, c2w[:, query],
                     query_intrinsics, noise, depth_range, self.random_points(scene, generator))

    def random_points(self, scene: np.ndarray, generator: torch.Generator) -> torch.Tensor | None:
        """The scenes' sparse points, thinned at random (a capture has more or fewer), and none at all
        for POINTS_DROPPED of them (many captures have no points): [B,M,3], NaN rows where there are none."""
        if self.points is None:
            return None
        points = torch.as_tensor(np.asarray(self.points[scene], np.float32))
        density = torch.rand(len(scene), 1, generator=generator) * (1 - MIN_POINT_DENSITY) + MIN_POINT_DENSITY
        keep = torch.rand(points.shape[:2], generator=generator) < density
        keep &= torch.rand(len(scene), 1, generator=generator) >= POINTS_DROPPED
        return points.masked_fill(~keep[..., None], float("nan"))

    def random_crop(self, images: torch.Tensor, intrinsics: torch.Tensor,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A window of every query image [B,3,H,W] (one shape for the batch, its own place for each;
        the whole view without `crop`), read config.context_scale times smaller than the contexts, and
        the intrinsics [B,4] (normalised) of that window."""
        height, width = images.shape[-2:]
        scale = self.config.context_scale
        if self.crop:
            aspect = CROP_ASPECTS[int(torch.randint(len(CROP_ASPECTS), (1,), generator=generator))]
        else:
            aspect = width / height
        cells = self.config.r_scale
        long_side = min(self.crop or max(height, width), max(height, width) / scale)
        crop_h = min(int(height / scale), max(cells, round(long_side * min(1.0, 1 / aspect) / cells) * cells))
        crop_w = min(int(width / scale), max(cells, round(long_side * min(1.0, aspect) / cells) * cells))
        window_h, window_w = min(height, round(crop_h * scale)), min(width, round(crop_w * scale))
        top = torch.randint(height - window_h + 1, (len(images),), generator=generator)
        left = torch.randint(width - window_w + 1, (len(images),), generator=generator)
        cropped = torch.stack([image[:, y:y + window_h, x:x + window_w] for image, y, x in zip(images, top, left)])
        if (window_h, window_w) != (crop_h, crop_w):   # bicubic, antialiased: about as sharp as Lanczos
            cropped = F.interpolate(cropped, size=(crop_h, crop_w), mode="bicubic", antialias=True,
                                    align_corners=False).clamp(0, 1)
        fx, fy, cx, cy = intrinsics.unbind(-1)
        moved = torch.stack([fx * width / window_w, fy * height / window_h, (cx * width - left) / window_w,
                             (cy * height - top) / window_h], -1)
        return cropped, moved

    def nearest_first(self, scene: int, query: int, k: int) -> np.ndarray:
        """[k+1]: the query view, then the k other views of the scene nearest to it."""
        c2w = np.asarray(self.dataset.c2w[scene], np.float64)
        others = np.delete(np.arange(len(c2w)), query)
        radius = max(float(np.median(np.linalg.norm(c2w[:, :3, 3], axis=-1))), 1e-9)
        return np.concatenate([[query], others[nearest_views(c2w[others], c2w[query], k, radius)[0]]])


def training_cameras(dataset) -> dict[str, float]:
    """Where the training cameras sat and what they saw: photos are brought to the same (gqn fit, the app)."""
    from gqn import camera
    width = dataset.images.shape[3]
    positions = np.asarray(dataset.c2w[:MEAN_IMAGE_SCENES, :, :3, 3])
    return {"fov_deg": round(camera.fov_x_deg(dataset.intrinsics[0, 0], width), 4),
            "camera_radius": round(float(np.linalg.norm(positions, axis=-1).mean()), 4)}


def depth_range(kind: str | None, camera_radius: float) -> tuple[float, float]:
    """Where along the rays epipolar attention looks: the scene kind's own range, or, for data of no
    known kind, a wide one around the cameras' distance from the scene centre."""
    from gqn.scenes import KINDS, depth_range as kind_depth_range
    if kind in KINDS:
        return kind_depth_range(kind)
    return 0.1 * camera_radius, 3.0 * camera_radius


def dataset_mean_image(dataset, size: int) -> torch.Tensor:
    """Mean training image over (up to) the first MEAN_IMAGE_SCENES scenes: [3,size,size]."""
    images = dataset.images[:MEAN_IMAGE_SCENES]
    return images_to_tensor(images.reshape(-1, *images.shape[-3:]), size).mean(0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset folder made by `gqn scenes`")
    parser.add_argument("--out", required=True, help="run folder: checkpoints, metrics.jsonl")
    parser.add_argument("--preset", default="default", help="model preset: tiny, default, paper, epipolar")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--batch", type=int, default=TrainConfig.batch, help="global batch (split over processes)")
    parser.add_argument("--max-contexts", type=int, default=TrainConfig.max_contexts)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr_start)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--checkpoint-every", type=int, default=TrainConfig.checkpoint_every)
    parser.add_argument("--log-every", type=int, default=TrainConfig.log_every)
    parser.add_argument("--until", type=int, default=None,
                        help="stop cleanly at this step (checkpoint written); schedules still span --steps")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop cleanly (checkpoint written) after M minutes")
    parser.add_argument("--sigma", type=float, nargs=2, default=(TrainConfig.sigma_start, TrainConfig.sigma_end),
                        metavar=("START", "END"), help="pixel noise of the likelihood, annealed from START to END")
    parser.add_argument("--crop", type=int, default=None,
                        help="train on random windows of the query, this many pixels on the long side")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    parser.add_argument("--init", default=None, metavar="MODEL",
                        help="start from this model folder's weights; parts the preset adds start fresh "
                             "(so a grown model starts as the one it grew from)")
    parser.add_argument("--fp32", action="store_true", help="turn bf16 autocast off")
    parser.add_argument("--json", action="store_true", help="JSON lines on stdout")


def _distributed() -> tuple[int, int]:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def run(args: argparse.Namespace) -> int:
    from gqn.data.dataset import SceneDataset

    dataset = SceneDataset(args.data)

    def new_config() -> ModelConfig:
        config = preset(args.preset)
        config.image_size = int(dataset.images.shape[2])
        config.bf16 = config.bf16 and not args.fp32
        config.trained_on = {k: dataset.meta.get(k) for k in ("kind", "size", "views", "scenes", "seed")}
        config.trained_on["data"] = str(Path(args.data))
        config.trained_on.update(training_cameras(dataset))
        config.trained_on["sigma"] = args.sigma[1]   # where the likelihood's noise ends: `gqn fit` goes on from there
        config.epipolar_near, config.epipolar_far = depth_range(config.trained_on["kind"], config.trained_on["camera_radius"])
        return config

    initial = read_model_folder(args.init)[1] if args.init else None
    session = TrainingSession.start(args, new_config, initial_weights=initial)
    if session.step == 0:
        session.model.data_mean.copy_(dataset_mean_image(dataset, session.model.config.image_size))
    config = session.model.config
    # Photo captures are rendered from each query's nearest photos (as predict does), whose poses are
    # made as inexact as a real capture's; procedural scenes from any of their few views.
    photo_world = dataset.meta.get("kind") == PHOTO_WORLD
    return session.optimise(BatchSampler(dataset, config, session.config.max_contexts,
                                         nearest=photo_world, crop=session.config.crop,
                                         pose_noise=POSE_NOISE_DEGREES if photo_world else 0.0))


def _load_weights(model: GQN, weights: dict[str, torch.Tensor]) -> None:
    """Weights into the model; parameters they lack keep their initialisation (reported), anything
    else that does not fit is an error."""
    mine = model.state_dict()
    unexpected = sorted(set(weights) - set(mine))
    wrong = sorted(k for k in set(weights) & set(mine) if weights[k].shape != mine[k].shape)
    if unexpected or wrong:
        raise GQNError(f"the starting weights do not fit this model (unexpected {unexpected[:3]}, "
                       f"wrong shape {wrong[:3]}); is --init a model of another preset?")
    missing = model.load_state_dict(weights, strict=False).missing_keys
    if missing:
        print(f"new parameters start fresh: {', '.join(missing)}", file=sys.stderr)


def parameter_groups(model: GQN) -> list[dict]:
    """Adam's groups: the model, and its trust gate (if any) at TRUST_LR_SCALE times the rate, so that
    the few hundred steps of a fine-tune or a fit place it."""
    gate = [] if model.generator.trust is None else list(model.generator.trust.parameters())
    rest = [p for p in model.parameters() if all(p is not g for g in gate)]
    return [{"params": rest, "lr_scale": 1.0}] + ([{"params": gate, "lr_scale": TRUST_LR_SCALE}] if gate else [])


def train_config_from(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(steps=args.steps or TrainConfig.steps, batch=args.batch, max_contexts=args.max_contexts, lr_start=args.lr,
                       lr_end=args.lr / 10, seed=args.seed, checkpoint_every=args.checkpoint_every or TrainConfig.checkpoint_every,
                       log_every=args.log_every, max_minutes=args.max_minutes, crop=args.crop,
                       sigma_start=args.sigma[0], sigma_end=args.sigma[1])


class TrainingSession:
    """Model, optimizer and generator of a run, new or resumed, and the loop that trains them.

    `gqn train` and `gqn fit` differ only in where batches come from and where weights start.
    """

    def __init__(self, args, model: GQN, config: TrainConfig, step: int, generator: torch.Generator,
                 optimizer: torch.optim.Optimizer, rank: int, world: int) -> None:
        self.args, self.model, self.config, self.step = args, model, config, step
        self.generator, self.optimizer, self.rank, self.world = generator, optimizer, rank, world
        self.out = Path(args.out)

    @classmethod
    def start(cls, args, new_config, initial_weights: dict[str, torch.Tensor] | None) -> "TrainingSession":
        """A fresh run in args.out (model from new_config(), weights from initial_weights or random),
        or, with --resume and a checkpoint there, the run continued exactly."""
        rank, world = _distributed()
        device = torch.device(f"cuda:{rank % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu")
        if args.batch % world:
            raise GQNError(f"--batch {args.batch} does not split evenly over {world} processes")
        out = Path(args.out)
        train_config = train_config_from(args)
        resuming = args.resume and (out / "latest").exists()
        if resuming:
            folder, state, info = load_checkpoint(out)
            config, weights = read_model_folder(folder)
            step = int(info["step"])
            train_config = TrainConfig(**{**info["train"], "steps": args.steps or info["train"]["steps"],
                                          "max_minutes": args.max_minutes})
        else:
            if (out / "latest").exists():
                raise GQNError(f"{out}: already holds a run; pass --resume to continue it, or choose another --out")
            config, weights, step, state = new_config(), initial_weights, 0, None
        torch.manual_seed(train_config.seed)  # the initial weights
        model = GQN(config)
        if weights is not None:
            _load_weights(model, weights)
        model.to(device)
        generator = torch.Generator().manual_seed(train_config.seed)
        optimizer = torch.optim.Adam(parameter_groups(model), lr=train_config.lr_start)
        if resuming:
            generator.set_state(state.pop("rng"))
            optimizer.load_state_dict(_optimizer_state(optimizer, state, info["optimizer"]))
        return cls(args, model, train_config, step, generator, optimizer, rank, world)

    def checkpoint(self) -> None:
        if self.rank == 0:
            train_state, opt_info = _optimizer_tensors(self.optimizer)
            train_state["rng"] = self.generator.get_state()
            save_checkpoint(self.out, self.step, self.model, train_state,
                            {"step": self.step, "train": self.config.to_dict(), "optimizer": opt_info})

    def optimise(self, sampler: "BatchSampler", validate=None) -> int:
        """Train until --steps, --until, --max-minutes or a signal; checkpoint; report.

        `validate(step) -> dict` (optional) runs on rank 0 at every checkpoint; its figures join
        metrics.jsonl and the progress stream.
        """
        args, config, model, rank, world = self.args, self.config, self.model, self.rank, self.world
        device = next(model.parameters()).device
        ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
        local = slice(rank * config.batch // world, (rank + 1) * config.batch // world)
        stop = {"signal": None}

        def request_stop(signum, _frame):
            stop["signal"] = signum
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, request_stop)

        if rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            _truncate_metrics(self.out / "metrics.jsonl", self.step)
            if not args.json:
                print(f"{model.config.representation} GQN, {model.num_parameters():,} parameters, "
                      f"{world} process(es) on {device}")
        started, first_step = time.monotonic(), self.step
        progress = Progress(config.steps, "train", args.json, initial=self.step) if rank == 0 else None
        metrics = (self.out / "metrics.jsonl").open("a") if rank == 0 else None

        def log(row: dict) -> None:
            metrics.write(json.dumps(row) + "\n")
            metrics.flush()
            shown = ("loss", "kl", "images_per_s", "psnr", "baseline_nearest_psnr", "baseline_ibr_psnr")
            progress.update(self.step - progress.done, **{k: row[k] for k in shown if k in row})

        reason, validation = "done", {}
        last = config.steps if args.until is None else min(args.until, config.steps)
        try:
            while self.step < last:
                sigma = anneal(config.sigma_start, config.sigma_end, config.sigma_anneal_fraction, self.step, config.steps)
                lr = anneal(config.lr_start, config.lr_end, config.lr_anneal_fraction, self.step, config.steps)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr * group.get("lr_scale", 1.0)
                batch = sampler.draw(config.batch, self.generator).slice(local).to(device)
                result = ddp(batch.context_images, batch.context_c2w, batch.context_intrinsics, batch.query_image,
                             batch.query_c2w, batch.query_intrinsics, sigma, batch.noise, batch.depth_range,
                             batch.points)
                loss = result["loss"].item()
                if not math.isfinite(loss):
                    raise GQNError(f"loss became {loss} at step {self.step}; the last checkpoint in {self.out} is intact")
                self.optimizer.zero_grad(set_to_none=True)
                result["loss"].backward()
                self.optimizer.step()
                self.step += 1
                if rank == 0 and (self.step % config.log_every == 0 or self.step == last):
                    elapsed = time.monotonic() - started
                    losses = {name: result[name].item() for name in ("nll", "kl", "trust_nll") if name in result}
                    log({"step": self.step, "loss": loss, **losses, "sigma": sigma, "lr": lr,
                         "contexts": batch.context_images.shape[1],
                         "images_per_s": (self.step - first_step) * config.batch / max(elapsed, 1e-9)})
                if self.step % config.checkpoint_every == 0:
                    self.checkpoint()
                    if validate is not None and rank == 0:
                        validation = {"step": self.step, **validate(self.step)}
                        log(validation)
                if _agree(stop["signal"] is not None, world):
                    reason = "signal"
                    break
                if config.max_minutes is not None and _agree(time.monotonic() - started > 60 * config.max_minutes, world):
                    reason = "max-minutes"
                    break
            if reason == "done" and self.step < config.steps:
                reason = "until"
            if self.step % config.checkpoint_every != 0:
                self.checkpoint()
            if world > 1:
                dist.barrier()  # rank 0 may still be writing; tearing gloo down under it aborts the others
            result_row = {"event": "result", "run": str(self.out), "step": self.step, "stopped": reason,
                          "minutes": (time.monotonic() - started) / 60, "parameters": model.num_parameters()}
            if validate is not None and rank == 0:
                if validation.get("step") != self.step:
                    validation = {"step": self.step, **validate(self.step)}
                result_row.update({k: v for k, v in validation.items() if k != "step"})
        finally:
            if progress is not None:
                progress.close()
            if metrics is not None:
                metrics.close()
            if dist.is_initialized():
                del ddp   # its reducer holds gloo work: freed after the group it would outlive it, and abort at exit
                dist.destroy_process_group()
        if rank == 0:
            report(result_row, args.json)
        return 0


def _agree(flag: bool, world: int) -> bool:
    """True on every process if it is true on any (so all stop at the same step)."""
    if world == 1:
        return flag
    value = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(value)
    return bool(value.item() > 0)


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Adam's state as flat tensors for safetensors, plus the JSON-able rest."""
    saved = optimizer.state_dict()
    tensors = {f"optimizer.{index}.{key}": value.reshape(-1) if value.dim() == 0 else value
               for index, entry in saved["state"].items() for key, value in entry.items()}
    shapes = {f"optimizer.{index}.{key}": list(value.shape)
              for index, entry in saved["state"].items() for key, value in entry.items()}
    return tensors, {"param_groups": saved["param_groups"], "shapes": shapes}


def _optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], info: dict) -> dict:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, shape in info["shapes"].items():
        _, index, key = name.split(".")
        state.setdefault(int(index), {})[key] = tensors[name].reshape(shape)
    return {"state": state, "param_groups": info["param_groups"]}


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume, drop metric rows logged after the checkpoint we continue from."""
    if not path.exists():
        return
    rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(row + "\n" for row in rows))
