"""Speed of the GQN presets on this machine, as one JSON object on stdout.

    python benchmarks/bench_model.py [--presets default paper] [--threads N]

- sampling: ms per sampled view, the context set (5 views) encoded once and cached, batch 1 and 16
  (what the app and `gqn predict` call: GQN.encode_views + GQN.sample_views);
- training: images/s of forward + backward + Adam at batch 8 and 36 (contexts as the trainer's
  mean draw from 1..5, i.e. 3), a few timed steps after warm-up;
- the machine's peaks: fp32 and bf16 matmul (big sgemm) and a 5×5 conv 128→512 at 16×16, batch 64;
- achieved GFLOP/s of each workload, counting the FLOPs of every conv layer with forward hooks
  (2·Cin·Cout·k²·Hout·Wout/groups per output image; ×3 for training: forward, two backward), and
  its fraction of the conv peak in the precision the model runs in.
Every time is the fastest of its repeats (the least disturbed by other processes); figures are still
noisy where other processes share the cores, so the load average is recorded at start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from gqn import GQN, ViewSet, camera  # noqa: E402
from gqn.config import preset  # noqa: E402

SAMPLE_CONTEXTS = 5
TRAIN_CONTEXTS = 3
# Reference: a public port at paper-like size on this machine kind (issue #2, GQN-NOTES.md).
REFERENCE_SAMPLE_MS = 180.0
REFERENCE_TRAIN_IMAGES_PER_S = 36 / 31.0


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Seconds per call, after warm-up calls (allocator, oneDNN kernel selection)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def conv_flops(model: nn.Module, fn: Callable[[], object]) -> float:
    """FLOPs of every nn.Conv2d that runs during fn() (multiply-adds count 2)."""
    total = 0.0

    def hook(module: nn.Conv2d, inputs, output) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += 2.0 * module.in_channels * module.out_channels * kh * kw * output[0, 0].numel() \
            * output.shape[0] / module.groups

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        fn()
    finally:
        for handle in handles:
            handle.remove()
    return total


def peaks() -> dict[str, float]:
    """Best-of-3 GFLOP/s of a big matmul and of a representative conv, fp32 and bf16."""
    out = {}
    n = 2048
    conv = nn.Conv2d(128, 512, 5, padding=2)
    x = torch.randn(64, 128, 16, 16)
    conv_work = 2.0 * 128 * 512 * 25 * 16 * 16 * 64
    for dtype, name in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        out[f"matmul_{name}_gflops"] = 2.0 * n**3 / min(timed(lambda: a @ b, 3)) / 1e9
        layer, inp = conv.to(dtype), x.to(dtype)
        with torch.inference_mode():
            out[f"conv_{name}_gflops"] = conv_work / min(timed(lambda: layer(inp), 3)) / 1e9
    return out


def random_scene(size: int, views: int, seed: int) -> ViewSet:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (views, size, size, 3), dtype=np.uint8)
    return ViewSet(images, camera.orbit_path(views, 3.0, 30.0, start_azimuth_deg=float(rng.uniform(0, 360))))


def bench_sampling(model: GQN, batch: int) -> dict[str, float]:
    size = model.config.image_size
    context = model.encode_views(random_scene(size, SAMPLE_CONTEXTS, 0))
    queries = camera.orbit_path(batch, 3.0, 20.0)
    run = lambda: model.sample_views(context, queries, samples=1, seed=0)  # noqa: E731
    with torch.inference_mode():
        flops = conv_flops(model, run) / batch
    seconds = min(timed(run, repeats=7 if batch == 1 else 3, warmup=2)) / batch
    return {"ms_per_view": 1e3 * seconds, "gflop_per_view": flops / 1e9, "gflops": flops / seconds / 1e9}


def training_batch(model: GQN, batch: int) -> tuple:
    size, config = model.config.image_size, model.config
    g = torch.Generator().manual_seed(0)
    views = torch.rand(batch, TRAIN_CONTEXTS + 1, 3, size, size, generator=g)
    c2w = torch.as_tensor(camera.orbit_path(batch * (TRAIN_CONTEXTS + 1), 3.0, 20.0), dtype=torch.float32)
    c2w = c2w.reshape(batch, TRAIN_CONTEXTS + 1, 4, 4)
    intrinsics = torch.tensor([1.2, 1.2, 0.5, 0.5]).expand(batch, TRAIN_CONTEXTS + 1, 4)
    side = config.state_size
    noise = torch.randn(config.steps, batch, config.z_channels, side, side, generator=g)
    return (views[:, 1:], c2w[:, 1:], intrinsics[:, 1:], views[:, 0], c2w[:, 0], intrinsics[:, 0], 1.0, noise)


def bench_training(model: GQN, batch: int) -> dict[str, float]:
    model.train()
    inputs = training_batch(model, batch)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        loss = model(*inputs)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    flops = 3 * conv_flops(model, lambda: model(*inputs)) / batch
    first = timed(step, repeats=1)[0]                       # slow presets get fewer timed steps
    repeats = max(2, min(5, int(20 / max(first, 1e-3))))
    seconds = min(timed(step, repeats, warmup=0))
    model.eval()
    return {"images_per_s": batch / seconds, "s_per_step": seconds, "gflop_per_image": flops / 1e9,
            "gflops": flops * batch / seconds / 1e9}


def preset_figures(name: str) -> dict:
    torch.manual_seed(0)
    model = GQN(preset(name)).eval()
    entry = {"parameters": model.num_parameters(), "precision": "bf16" if model.config.bf16 else "fp32",
             "image_size": model.config.image_size}
    for batch in (1, 16):
        entry[f"sampling_batch{batch}"] = bench_sampling(model, batch)
    for batch in (8, 36):
        entry[f"training_batch{batch}"] = bench_training(model, batch)
    print(json.dumps({name: entry}), file=sys.stderr, flush=True)
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["default", "paper"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
              "load_average_start": os.getloadavg()[0], "sample_contexts": SAMPLE_CONTEXTS,
              "train_contexts": TRAIN_CONTEXTS}
    before = peaks()
    result["presets"] = {name: preset_figures(name) for name in args.presets}
    after = peaks()
    # The better of the peaks measured before and after the workloads is the least disturbed one.
    result["peaks"] = {key: max(before[key], after[key]) for key in before}
    for entry in result["presets"].values():
        peak = result["peaks"][f"conv_{entry['precision']}_gflops"]
        for value in entry.values():
            if isinstance(value, dict):
                value["fraction_of_peak"] = value["gflops"] / peak
    result["goals"] = goals(result["presets"])
    result["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2))


def goals(presets: dict) -> list[dict]:
    """Issue #2's speed goals against what was measured (sampling at batch 1, training at batch 36)."""
    wanted = {"default": (30.0, 40.0), "paper": (REFERENCE_SAMPLE_MS / 3, 2 * REFERENCE_TRAIN_IMAGES_PER_S)}
    out = []
    for name, (max_ms, min_images) in wanted.items():
        if name in presets:
            ms = presets[name]["sampling_batch1"]["ms_per_view"]
            images = presets[name]["training_batch36"]["images_per_s"]
            out.append({"goal": f"{name}: ≤ {max_ms:.0f} ms per sampled view", "measured": ms, "met": ms <= max_ms})
            out.append({"goal": f"{name}: ≥ {min_images:.1f} training images/s", "measured": images,
                        "met": images >= min_images})
    return out


if __name__ == "__main__":
    main()
