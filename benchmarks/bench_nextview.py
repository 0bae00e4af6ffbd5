"""Does the next-best-view guide pick views that help? Held-out procedural scenes, exact renders.

    PYTHONPATH=$PWD python benchmarks/bench_nextview.py [--model DIR] [--scenes 60] [--contexts 2]

For each held-out scene (the kind and size the model was trained on, seeds disjoint from its
training and test sets) the model gets a few context views. Candidate cameras around them are
ranked by the model's spread (gqn.nextview), and one more context view is added, rendered exactly
at the pose chosen by each rule:
  suggested  the candidate the model is most unsure about (the guide's pick)
  random     a candidate drawn at random
  farthest   the candidate farthest from every context camera (a geometry-only rule)
The error of the mean prediction on other held-out views of the scene says which extra view helped
most. Prints a table (stderr) and one JSON object (stdout).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from gqn import load_model  # noqa: E402
from gqn.data.dataset import scene_seed  # noqa: E402
from gqn.data.viewset import ViewSet  # noqa: E402
from gqn.metrics import psnr  # noqa: E402
from gqn.nextview import candidate_cameras, score_cameras  # noqa: E402
from gqn.scenes.kinds import scene_and_cameras  # noqa: E402

RULES = ("none", "suggested", "random", "farthest")


def pick(rule: str, candidates: np.ndarray, scores: np.ndarray, context_c2w: np.ndarray,
         rng: np.random.Generator) -> int:
    """Index of the candidate a rule adds."""
    if rule == "suggested":
        return int(np.argmax(scores))
    if rule == "random":
        return int(rng.integers(len(candidates)))
    gaps = np.linalg.norm(candidates[:, None, :3, 3] - context_c2w[None, :, :3, 3], axis=-1).min(1)
    return int(np.argmax(gaps))


def one_scene(model, kind: str, seed: int, contexts: int, targets: int, candidates: int, samples: int,
              eval_samples: int, rng: np.random.Generator) -> dict[str, list[float]]:
    """Per rule: [MSE, PSNR] of the mean prediction over the scene's held-out views."""
    size = model.config.image_size
    scene, c2w, intrinsics = scene_and_cameras(kind, seed, contexts + targets, size)
    images = scene.render(c2w, intrinsics, size)
    context = ViewSet(images[:contexts], c2w[:contexts], intrinsics[:contexts])
    truth = images[contexts:].astype(np.float32) / 255.0
    poses = candidate_cameras(context.c2w, candidates)
    scores = score_cameras(model, context, poses, samples, seed=0)
    result = {}
    for rule in RULES:
        views = context
        if rule != "none":
            chosen = poses[pick(rule, poses, scores, context.c2w, rng)]
            extra = scene.render(chosen[None], intrinsics[:1], size)
            views = ViewSet(np.concatenate([context.images, extra]), np.concatenate([context.c2w, chosen[None]]),
                            np.concatenate([context.intrinsics, intrinsics[:1]]))
        mean = model.predict(views, c2w[contexts:], samples=eval_samples, seed=1).astype(np.float32).mean(1) / 255.0
        errors = ((mean - truth) ** 2).mean(axis=(1, 2, 3))
        result[rule] = [float(errors.mean()), float(psnr(mean, truth).mean())]
    return result


def summarise(per_scene: list[dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    """Mean MSE and PSNR per rule; for each added view its gain over none and, for the suggested
    one, the paired PSNR difference to the other rules (mean ± standard error, and how often it won)."""
    table = {rule: np.array([scene[rule] for scene in per_scene]) for rule in RULES}   # [N,2] (MSE, PSNR)
    out = {}
    for rule, values in table.items():
        row = {"mse": float(values[:, 0].mean()), "psnr": float(values[:, 1].mean()),
               "gain_db": float((values[:, 1] - table["none"][:, 1]).mean())}
        if rule in ("random", "farthest"):
            diff = table["suggested"][:, 1] - values[:, 1]
            row["suggested_minus_this_db"] = float(diff.mean())
            row["suggested_minus_this_stderr"] = float(diff.std(ddof=1) / np.sqrt(len(diff)))
            row["suggested_wins"] = float((table["suggested"][:, 0] < values[:, 0]).mean())
        out[rule] = row
    return out


def print_table(summary: dict[str, dict[str, float]], scenes: int, contexts: int, file=sys.stderr) -> None:
    print(f"\n{scenes} held-out scenes, {contexts} context view(s) + the added one", file=file)
    print(f"{'added view':<11} {'MSE':>9} {'PSNR dB':>8} {'gain dB':>8}  suggested − this (dB, wins)", file=file)
    for rule, row in summary.items():
        vs = f"{row['suggested_minus_this_db']:+.3f} ± {row['suggested_minus_this_stderr']:.3f}, " \
             f"{100 * row['suggested_wins']:.0f} %" if "suggested_wins" in row else ""
        print(f"{rule:<11} {row['mse']:9.5f} {row['psnr']:8.3f} {row['gain_db']:+8.3f}  {vs}", file=file)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(Path(__file__).resolve().parents[1] / "resources/models/default"))
    parser.add_argument("--scenes", type=int, default=60)
    parser.add_argument("--contexts", type=int, default=2, help="context views before the added one")
    parser.add_argument("--targets", type=int, default=8, help="held-out views the error is measured on")
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--samples", type=int, default=8, help="prior samples per candidate for its score")
    parser.add_argument("--eval-samples", type=int, default=4, help="samples averaged for the measured prediction")
    parser.add_argument("--seed", type=int, default=777, help="held-out scenes: gqn scenes --seed SEED (training used 1, the test set 999)")
    args = parser.parse_args()

    model = load_model(args.model)
    kind = model.config.trained_on.get("kind", "shepard-metzler-7")
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    per_scene = []
    for i in range(args.scenes):
        per_scene.append(one_scene(model, kind, scene_seed(args.seed, i), args.contexts, args.targets,
                                   args.candidates, args.samples, args.eval_samples, rng))
        print(f"\rscene {i + 1}/{args.scenes}", end="", file=sys.stderr, flush=True)
    summary = summarise(per_scene)
    print_table(summary, args.scenes, args.contexts)
    print(json.dumps({"model": args.model, "kind": kind, "size": model.config.image_size, **vars(args),
                      "seconds": round(time.perf_counter() - start, 1), "rules": summary}))


if __name__ == "__main__":
    main()
