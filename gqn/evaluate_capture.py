"""`gqn evaluate --views CAPTURE`: a model against the classical baselines on photos it never saw.

The protocol (the same for every model, so figures compare): photos sorted by name; those at
positions start, start+every, … are held out and never given as contexts; every other photo is a
context. Each held-out photo is rendered at its own camera (intrinsics and aspect) with the long
side at --size pixels, from all the contexts (the model picks the K that matter per query), and
scored against the photo itself, beside the nearest photo, plane-sweep image-based rendering and,
when the capture has sparse structure-from-motion points, depth from those points (warp and blend).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from gqn.baselines import nearest_photo, plane_sweep, sparse_depth_render
from gqn.baselines.sparse_depth import CANDIDATES
from gqn.data.images import fit_image, working_size
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.grid import heatmap, image_grid
from gqn.metrics import psnr, ssim
from gqn.progress import Progress, report

SPREAD_SCALE = 0.05   # the spread map's brightest colour is at least this std


def held_out_indices(names: list[str], every: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """(held-out, context) view indices: sorted-name positions start, start+every, … are held out."""
    if every < 2 or start < 0:
        raise GQNError(f"--holdout-every must be at least 2 and --holdout-start at least 0 (got {every}, {start})")
    order = np.argsort(np.asarray(names, dtype=object), kind="stable")
    held = order[start::every]
    if len(held) == 0:
        raise GQNError(f"holding out every {every}th photo from position {start} leaves none out of {len(names)}")
    contexts = np.setdiff1d(order, held)
    if len(contexts) < 2:
        raise GQNError(f"holding out every {every}th photo from position {start} leaves {len(contexts)} context "
                       "photo(s); at least 2 are needed")
    return np.sort(held), contexts


def evaluate_capture(model, views: ViewSet, every: int = 5, start: int = 2, long_side: int = 128,
                     samples: int = 4, seed: int = 0, progress: Progress | None = None) -> tuple[dict, list]:
    """(result, grid rows): mean PSNR/SSIM of the model's mean of `samples` prior samples and of
    the baselines over the held-out photos, with seconds per view; rows are truth | nearest |
    plane sweep | (sparse depth |) model mean | spread for each held-out photo."""
    if samples < 1 or long_side < 8:
        raise GQNError("--samples must be at least 1 and --size at least 8 pixels")
    held, context_index = held_out_indices(views.names, every, start)
    contexts = views[context_index]
    size = working_size(*views.size, long_side)
    intrinsics = views.normalised_intrinsics()
    with_points = contexts.points is not None and len(contexts.points) >= CANDIDATES
    names = ["", "nearest_", "ibr_"] + (["sparse_"] if with_points else [])
    scores = {f"{name}{metric}": [] for name in names for metric in ("psnr", "ssim")}
    seconds = {"model": 0.0, "ibr": 0.0, "encode": 0.0}
    rows = []
    started = time.perf_counter()
    encoding = model.encode_views(contexts)
    seconds["encode"] = time.perf_counter() - started
    for i in held:
        truth = fit_image(views.images[i], size)
        started = time.perf_counter()
        drawn = model.sample_views(encoding, views.c2w[i], samples, seed, intrinsics[i], size)[0]
        seconds["model"] += time.perf_counter() - started
        started = time.perf_counter()
        ibr = plane_sweep(contexts, views.c2w[i], intrinsics[i], size)
        seconds["ibr"] += time.perf_counter() - started
        nearest = nearest_photo(contexts, views.c2w[i], intrinsics[i], size)
        sparse = [sparse_depth_render(contexts, views.c2w[i], intrinsics[i], size)] if with_points else []
        draws = drawn.astype(np.float32) / 255.0
        mean = (draws.mean(0) * 255 + 0.5).astype(np.uint8)
        for name, image in zip(names, [mean, nearest, ibr, *sparse]):
            scores[f"{name}psnr"].append(float(psnr(image, truth)))
            scores[f"{name}ssim"].append(float(ssim(image, truth)))
        rows.append([truth, nearest, ibr, *sparse, mean, draws.std(0).mean(-1)])
        if progress is not None:
            progress.update(1, psnr=scores["psnr"][-1], ibr=scores["ibr_psnr"][-1])
    mean_of = {key: float(np.mean(values)) for key, values in scores.items()}
    result = {
        "psnr_mean": mean_of["psnr"], "ssim_mean": mean_of["ssim"],
        "baseline_nearest_psnr": mean_of["nearest_psnr"], "baseline_nearest_ssim": mean_of["nearest_ssim"],
        "baseline_ibr_psnr": mean_of["ibr_psnr"], "baseline_ibr_ssim": mean_of["ibr_ssim"],
        "held_out": [views.names[i] for i in held], "contexts": len(contexts), "size": list(size),
        "samples": samples, "per_view_psnr": scores["psnr"], "per_view_ibr_psnr": scores["ibr_psnr"],
        "seconds_encode": seconds["encode"], "seconds_per_view_model": seconds["model"] / len(held),
        "seconds_per_view_ibr": seconds["ibr"] / len(held),
    }
    if with_points:
        result.update(baseline_sparse_psnr=mean_of["sparse_psnr"], baseline_sparse_ssim=mean_of["sparse_ssim"])
    best = max(("ibr", "sparse") if with_points else ("ibr",), key=lambda name: mean_of[f"{name}_psnr"])
    result.update(baseline_best_classical=best, baseline_best_classical_psnr=mean_of[f"{best}_psnr"],
                  baseline_best_classical_ssim=mean_of[f"{best}_ssim"])
    return result, rows


def write_grid(rows: list, path: Path, title: str) -> None:
    """truth | nearest | plane sweep | (sparse depth |) model mean | spread, one row per held-out photo."""
    vmax = max(SPREAD_SCALE, max(float(row[-1].max()) for row in rows))
    tiles = [row[:-1] + [heatmap(row[-1], vmax)] for row in rows]
    labels = ["truth", "nearest photo", "plane sweep"] + (["sparse depth"] if len(rows[0]) == 6 else []) + \
        ["model mean", f"spread 0-{vmax:.2f}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    image_grid(tiles, labels, title).save(tmp)
    os.replace(tmp, path)


def run(args) -> int:
    from gqn.data.load import load_views
    from gqn.nn.model import load_model

    if args.grid and Path(args.grid).suffix.lower() != ".png":
        raise GQNError(f"--grid {args.grid}: the grid is written as PNG; give a .png file name")
    from gqn.shipped import model_path

    views = load_views(args.views, scene=args.scene)
    args.model = model_path(args.model, views)
    model = load_model(args.model)
    held = held_out_indices(views.names, args.holdout_every, args.holdout_start)[0]
    with Progress(len(held), "evaluate", args.json) as progress:
        result, rows = evaluate_capture(model, views, args.holdout_every, args.holdout_start, args.size,
                                        args.samples, args.seed, progress)
    result.update(model=str(args.model), views=str(args.views), skipped=views.skipped,
                  parameters=model.num_parameters())
    if args.grid:
        write_grid(rows, Path(args.grid), f"{Path(str(args.model)).name} on {Path(str(args.views)).name}: "
                   f"model {result['psnr_mean']:.2f} dB, plane sweep {result['baseline_ibr_psnr']:.2f}, "
                   f"nearest {result['baseline_nearest_psnr']:.2f}")
        result["grid"] = str(args.grid)
    if args.json:
        report({"event": "result", **result}, True)
    else:
        print(f"{len(held)} held-out photos of {args.views} at {result['size'][1]}×{result['size'][0]}, "
              f"{result['contexts']} contexts, {args.samples} samples")
        for label, key in (("model", ""), ("nearest photo", "baseline_nearest_"), ("plane sweep", "baseline_ibr_"),
                           ("sparse depth", "baseline_sparse_")):
            psnr_key, ssim_key = (f"{key}psnr", f"{key}ssim") if key else ("psnr_mean", "ssim_mean")
            if psnr_key not in result:
                continue
            print(f"{label:<15} PSNR {result[psnr_key]:6.2f} dB   SSIM {result[ssim_key]:.3f}")
        print(f"per view: model {1000 * result['seconds_per_view_model']:.0f} ms, plane sweep "
              f"{1000 * result['seconds_per_view_ibr']:.0f} ms; encoding {result['seconds_encode']:.2f} s")
    return 0
