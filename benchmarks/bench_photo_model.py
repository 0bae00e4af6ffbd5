"""A photo model against the classical baselines on captures it never saw (the `gqn evaluate --views`
protocol: every 5th photo from index 2 held out, long side 128, mean of 4 samples).

Captures are folders (any format `gqn info` reads) and/or photo-world captures rendered now from
seeds the training data never used (`--rendered SEED …`: layout, aspect, setting and field of view
follow from the seed, long side 256 as phone photos are larger than what is scored). Prints one
JSON line per capture and a summary line: mean PSNR/SSIM of the model and of each baseline, and
on how many captures the model beats the best classical one.
`python benchmarks/bench_photo_model.py --model resources/models/photo --rendered 990001 990002 ../shared/real/milk`
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from gqn import load_model, load_views
from gqn.evaluate_capture import evaluate_capture, write_grid

KEYS = ("psnr_mean", "ssim_mean", "baseline_nearest_psnr", "baseline_ibr_psnr", "baseline_ibr_ssim",
        "baseline_sparse_psnr", "baseline_best_classical_psnr", "baseline_best_classical_ssim",
        "seconds_per_view_model", "seconds_encode")


def captures(paths: list[str], seeds: list[int], points: bool = True):
    """(name, views) of each capture; without `points`, their sparse points are dropped (the model and
    the sparse-depth baseline then do without)."""
    from gqn.scenes import photo_world
    named = [(Path(path).name, load_views(path)) for path in paths]
    for seed in seeds:
        capture = photo_world.render_capture(seed, size=256)
        named.append((f"photo-world:{seed} ({capture.views.meta['setting']}, {capture.views.meta['layout']})",
                      capture.views))
    for name, views in named:
        if not points:
            views.points = views.point_colors = None
        yield name, views


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resources/models/photo")
    parser.add_argument("captures", nargs="*", help="capture folders")
    parser.add_argument("--rendered", type=int, nargs="*", default=[], help="photo-world capture seeds to render")
    parser.add_argument("--grids", help="folder for one evaluation grid per capture")
    parser.add_argument("--no-points", action="store_true", help="drop the captures' sparse points (an ablation)")
    args = parser.parse_args()
    model = load_model(args.model)
    rows = []
    for name, views in captures(args.captures, args.rendered, not args.no_points):
        start = time.perf_counter()
        result, grid = evaluate_capture(model, views)
        row = {"capture": name, "views": len(views), **{k: round(result[k], 4) for k in KEYS if k in result},
               "best_classical": result["baseline_best_classical"], "seconds": round(time.perf_counter() - start, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.grids:
            write_grid(grid, Path(args.grids) / f"{name.split()[0].replace(':', '-')}.png",
                       f"{Path(args.model).name} on {name}")
    margin = [r["psnr_mean"] - r["baseline_best_classical_psnr"] for r in rows]
    print(json.dumps({"summary": True, "model": args.model, "captures": len(rows), "points": not args.no_points,
                      "psnr_mean": round(float(np.mean([r["psnr_mean"] for r in rows])), 3),
                      "ssim_mean": round(float(np.mean([r["ssim_mean"] for r in rows])), 4),
                      "best_classical_psnr": round(float(np.mean([r["baseline_best_classical_psnr"] for r in rows])), 3),
                      "best_classical_ssim": round(float(np.mean([r["baseline_best_classical_ssim"] for r in rows])), 4),
                      "plane_sweep_psnr": round(float(np.mean([r["baseline_ibr_psnr"] for r in rows])), 3),
                      "nearest_psnr": round(float(np.mean([r["baseline_nearest_psnr"] for r in rows])), 3),
                      "margin_db_mean": round(float(np.mean(margin)), 3),
                      "beats_best_classical": int(sum(m > 0 for m in margin))}))


if __name__ == "__main__":
    main()
