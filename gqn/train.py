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
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from gqn.checkpoint import load_checkpoint, save_checkpoint
from gqn.config import ModelConfig, TrainConfig, preset
from gqn.errors import GQNError
from gqn.nn.model import GQN, images_to_tensor
from gqn.progress import Progress, emit, report

MEAN_IMAGE_SCENES = 512


def anneal(start: float, end: float, fraction: float, step: int, total: int) -> float:
    """Linear from `start` to `end` over the first `fraction` of `total` steps, then `end` (the paper's
    schedules, stretched to the run length)."""
    span = max(1.0, fraction * total)
    return end + (start - end) * max(0.0, 1.0 - step / span)


@dataclass
class Batch:
    context_images: torch.Tensor      # [B,K,3,H,W]
    context_c2w: torch.Tensor         # [B,K,4,4]
    context_intrinsics: torch.Tensor  # [B,K,4] normalised
    query_image: torch.Tensor         # [B,3,H,W]
    query_c2w: torch.Tensor           # [B,4,4]
    query_intrinsics: torch.Tensor    # [B,4]
    noise: torch.Tensor               # [L,B,z,h,w]

    def slice(self, part: slice) -> "Batch":
        return Batch(*(t[:, part] if name == "noise" else t[part] for name, t in vars(self).items()))

    def to(self, device: torch.device) -> "Batch":
        return Batch(*(t.to(device) for t in vars(self).values()))


class BatchSampler:
    """Random (scene, context views, query view) batches from a SceneDataset's memmaps."""

    def __init__(self, dataset, config: ModelConfig, max_contexts: int) -> None:
        self.dataset = dataset
        self.config = config
        scenes, views, height, width = dataset.images.shape[:4]
        if views < 2:
            raise GQNError(f"{dataset.path}: scenes need at least 2 views to train (1 context + 1 query)")
        self.max_contexts = min(max_contexts, views - 1)
        self.scale = np.array([width, height, width, height], np.float64)

    def draw(self, batch: int, generator: torch.Generator) -> Batch:
        scenes, views = self.dataset.images.shape[:2]
        k = int(torch.randint(1, self.max_contexts + 1, (1,), generator=generator))
        scene = torch.randint(0, scenes, (batch,), generator=generator).numpy()
        order = torch.argsort(torch.rand(batch, views, generator=generator), dim=1)[:, : k + 1].numpy()
        rows = scene[:, None]
        images = images_to_tensor(self.dataset.images[rows, order], self.config.image_size)
        c2w = torch.as_tensor(self.dataset.c2w[rows, order], dtype=torch.float32)
        intrinsics = torch.as_tensor(self.dataset.intrinsics[rows, order] / self.scale, dtype=torch.float32)
        side = self.config.state_size
        noise = torch.randn(self.config.steps, batch, self.config.z_channels, side, side, generator=generator)
        return Batch(images[:, :k], c2w[:, :k], intrinsics[:, :k], images[:, k], c2w[:, k], intrinsics[:, k], noise)


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
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
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

    rank, world = _distributed()
    device = torch.device(f"cuda:{rank % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu")
    if args.batch % world:
        raise GQNError(f"--batch {args.batch} does not split evenly over {world} processes")
    out = Path(args.out)
    dataset = SceneDataset(args.data)
    train_config = TrainConfig(steps=args.steps, batch=args.batch, max_contexts=args.max_contexts,
                               lr_start=args.lr, lr_end=args.lr / 10, seed=args.seed,
                               checkpoint_every=args.checkpoint_every, log_every=args.log_every,
                               max_minutes=args.max_minutes)
    resuming = args.resume and (out / "latest").exists()
    if resuming:
        folder, state, info = load_checkpoint(out)
        from gqn.checkpoint import read_model_folder
        config, weights = read_model_folder(folder)
        step = int(info["step"])
        train_config = TrainConfig(**{**info["train"], "steps": args.steps, "max_minutes": args.max_minutes})
    else:
        if (out / "latest").exists():
            raise GQNError(f"{out}: already holds a run; pass --resume to continue it, or choose another --out")
        config = preset(args.preset)
        config.image_size = int(dataset.images.shape[2])
        config.bf16 = config.bf16 and not args.fp32
        config.trained_on = {k: dataset.meta.get(k) for k in ("kind", "size", "views", "scenes", "seed")}
        config.trained_on["data"] = str(Path(args.data))
        step, state, weights = 0, None, None

    torch.manual_seed(train_config.seed)  # the initial weights
    model = GQN(config).to(device)
    generator = torch.Generator().manual_seed(train_config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_config.lr_start)
    if resuming:
        model.load_state_dict(weights)
        generator.set_state(state.pop("rng"))
        optimizer.load_state_dict(_optimizer_state(optimizer, state, info["optimizer"]))
    else:
        model.data_mean.copy_(dataset_mean_image(dataset, config.image_size))
    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    sampler = BatchSampler(dataset, config, train_config.max_contexts)
    local = slice(rank * args.batch // world, (rank + 1) * args.batch // world)

    stop = {"signal": None}
    def request_stop(signum, _frame):
        stop["signal"] = signum
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, request_stop)

    def checkpoint() -> None:
        if rank == 0:
            train_state, opt_info = _optimizer_tensors(optimizer)
            train_state["rng"] = generator.get_state()
            save_checkpoint(out, step, model, train_state,
                            {"step": step, "train": train_config.to_dict(), "optimizer": opt_info})

    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        _truncate_metrics(out / "metrics.jsonl", step)
        if not args.json:
            print(f"{config.representation} GQN, {model.num_parameters():,} parameters, {world} process(es) on {device}")
    started = time.monotonic()
    first_step = step
    progress = Progress(train_config.steps, "train", args.json, initial=step) if rank == 0 else None
    metrics = (out / "metrics.jsonl").open("a") if rank == 0 else None
    reason = "done"
    try:
        last = train_config.steps if args.until is None else min(args.until, train_config.steps)
        while step < last:
            sigma = anneal(train_config.sigma_start, train_config.sigma_end, train_config.sigma_anneal_fraction, step, train_config.steps)
            lr = anneal(train_config.lr_start, train_config.lr_end, train_config.lr_anneal_fraction, step, train_config.steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = sampler.draw(train_config.batch, generator).slice(local).to(device)
            result = ddp(batch.context_images, batch.context_c2w, batch.context_intrinsics, batch.query_image,
                         batch.query_c2w, batch.query_intrinsics, sigma, batch.noise)
            loss = result["loss"].item()
            if not math.isfinite(loss):
                raise GQNError(f"loss became {loss} at step {step}; the last checkpoint in {out} is intact")
            optimizer.zero_grad(set_to_none=True)
            result["loss"].backward()
            optimizer.step()
            step += 1
            if rank == 0 and (step % train_config.log_every == 0 or step == train_config.steps):
                elapsed = time.monotonic() - started
                row = {"step": step, "loss": loss, "nll": result["nll"].item(),
                       "kl": result["kl"].item(), "sigma": sigma, "lr": lr, "contexts": batch.context_images.shape[1],
                       "images_per_s": (step - first_step) * train_config.batch / max(elapsed, 1e-9)}
                metrics.write(json.dumps(row) + "\n")
                metrics.flush()
                progress.update(step - progress.done, loss=row["loss"], kl=row["kl"], img_s=row["images_per_s"])
            if step % train_config.checkpoint_every == 0:
                checkpoint()
            if _agree(stop["signal"] is not None, world):
                reason = "signal"
                break
            if train_config.max_minutes is not None and _agree(time.monotonic() - started > 60 * train_config.max_minutes, world):
                reason = "max-minutes"
                break
        if reason == "done" and step < train_config.steps:
            reason = "until"
        if step % train_config.checkpoint_every != 0:
            checkpoint()
    finally:
        if progress is not None:
            progress.close()
        if metrics is not None:
            metrics.close()
        if dist.is_initialized():
            dist.destroy_process_group()
    if rank == 0:
        report({"event": "result", "run": str(out), "step": step, "stopped": reason,
                "minutes": (time.monotonic() - started) / 60, "parameters": model.num_parameters()}, args.json)
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
