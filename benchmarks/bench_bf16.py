"""Does bf16 autocast change what the model draws? PSNR/SSIM of prior samples with bf16 on and off,
same weights, same scenes, same seed. Prints one JSON object; the goal is |Δ PSNR| < 0.1 dB.

    python benchmarks/bench_bf16.py                       # trains `default` briefly on generated scenes
    python benchmarks/bench_bf16.py --model RUN --data DIR   # or compares an existing model on a dataset
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from gqn.cli import main as gqn  # noqa: E402
from gqn.evaluate import choose_views, dataset_mean, evaluate  # noqa: E402
from gqn.nn.model import load_model  # noqa: E402

GOAL_DB = 0.1


def run_quietly(argv: list[str]) -> None:
    """A gqn command whose report goes to stderr, so stdout holds only this benchmark's JSON."""
    with contextlib.redirect_stdout(sys.stderr):
        if gqn(argv) != 0:
            raise SystemExit(f"gqn {' '.join(argv)} failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model or run folder (default: train one here)")
    parser.add_argument("--data", help="evaluation dataset (default: generate one)")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--scenes", type=int, default=64)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--contexts", type=int, default=3)
    args = parser.parse_args()
    from gqn.data.dataset import SceneDataset

    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        trained_here = args.model is None
        if args.data is None:
            args.data = f"{tmp}/test"
            run_quietly(["scenes", "--kind", "shepard-metzler-7", "--scenes", str(args.scenes), "--views", "6",
                         "--size", str(args.size), "--seed", "2", "--out", args.data])
        if trained_here:
            args.model = f"{tmp}/run"
            run_quietly(["scenes", "--kind", "shepard-metzler-7", "--scenes", "500", "--views", "6",
                         "--size", str(args.size), "--seed", "1", "--out", f"{tmp}/train"])
            run_quietly(["train", "--data", f"{tmp}/train", "--preset", args.preset, "--steps", str(args.steps),
                         "--batch", "16", "--out", args.model])
        model = load_model(args.model)
        dataset = SceneDataset(args.data)
        scenes = np.arange(min(args.scenes, len(dataset)))
        order = choose_views(scenes, dataset.images.shape[1], seed=0)
        mean_image, _ = dataset_mean(model, dataset)
        by_precision = {}
        for bf16 in (False, True):
            model.config.bf16 = bf16
            metrics, _ = evaluate(model, dataset, scenes, order, args.contexts, args.samples, mean_image, seed=0)
            by_precision["bf16" if bf16 else "fp32"] = metrics
        fp32, bf16 = by_precision["fp32"], by_precision["bf16"]
        delta = {key: bf16[key] - fp32[key] for key in ("psnr_mean", "psnr_best", "ssim_mean", "kl_per_image")}
        print(json.dumps({
            "model": f"{args.preset} preset trained here for {args.steps} steps at batch 16 on 500 scenes"
                     if trained_here else args.model,
            "scenes": len(scenes), "samples": args.samples, "contexts": args.contexts,
            "fp32": fp32, "bf16": bf16, "delta": delta, "goal_db": GOAL_DB,
            "met": abs(delta["psnr_mean"]) < GOAL_DB and abs(delta["psnr_best"]) < GOAL_DB,
            "seconds": time.monotonic() - started,
        }, indent=2))


if __name__ == "__main__":
    main()
