"""`gqn evaluate`: how well a model imagines held-out views, against baselines on the same queries.

Two forms: `--data DATASET` (many procedural scenes, below) and `--views CAPTURE` (one capture's
held-out photos against the classical baselines, gqn.evaluate_capture).

Every scene gets one query view and K context views drawn from --seed and the scene index only; the
contexts for a smaller K are the first of those for a larger K, so results for 1, 3, 5 contexts
compare like with like. Predictions are prior samples (never the posterior, see GQN-NOTES.md).
Baselines: the context view whose camera is nearest the query's, and the dataset-mean image.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gqn import camera
from gqn.errors import GQNError
from gqn.grid import heatmap, image_grid
from gqn.metrics import psnr, ssim
from gqn.nn.model import GQN, images_to_tensor, load_model, tensor_to_images
from gqn.progress import Progress, report
from gqn.shipped import MODEL_HELP

KL_SIGMA = 0.7        # the likelihood σ at the end of training: KL and NLL are reported at it
GRID_SCENES = 8
GRID_SAMPLES = 3
SPREAD_SCALE = 0.05   # the heat map's brightest colour is at least this std, so a collapsed prior looks dark

METRICS = ["psnr_mean", "psnr_best", "ssim_mean", "ssim_best", "baseline_nearest_psnr", "baseline_nearest_ssim",
           "baseline_mean_psnr", "baseline_mean_ssim", "kl_per_image", "sample_spread"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help=MODEL_HELP)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="dataset folder of held-out scenes (made by `gqn scenes`)")
    source.add_argument("--views", help="one capture (any format `gqn info` reads): its held-out photos are scored")
    parser.add_argument("--scene", type=int, default=None, help="with --views: which scene of a multi-scene dataset")
    parser.add_argument("--holdout-every", type=int, default=5, help="with --views: hold out every Nth photo (by name)")
    parser.add_argument("--holdout-start", type=int, default=2, help="with --views: starting at this sorted position")
    parser.add_argument("--size", type=int, default=128, help="with --views: long side of the rendered views, pixels")
    parser.add_argument("--contexts", type=int, nargs="+", default=[3], help="context views per scene; several values → one result each")
    parser.add_argument("--samples", type=int, default=None, help="prior samples per query (default 8; 4 with --views)")
    parser.add_argument("--scenes", type=int, default=None, help="evaluate the first N scenes (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="chooses the views and the samples")
    parser.add_argument("--batch", type=int, default=8, help="scenes per forward pass")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--grid", default=None, help="write a PNG: contexts | truth | mean | samples | std per scene")
    parser.add_argument("--json", action="store_true", help="JSON lines on stdout; the last one is the result")


@dataclass
class SceneBatch:
    context_images: torch.Tensor      # [B,K,3,H,W] in [0,1]
    context_c2w: torch.Tensor         # [B,K,4,4]
    context_intrinsics: torch.Tensor  # [B,K,4] normalised
    query_image: torch.Tensor         # [B,3,H,W]
    query_c2w: torch.Tensor           # [B,4,4]
    query_intrinsics: torch.Tensor    # [B,4]


def choose_views(scenes: np.ndarray, views: int, seed: int) -> np.ndarray:
    """[N,V]: a permutation of the views per scene; column 0 is the query, 1..K the K contexts.
    It depends only on (seed, scene index), so a scene gets the same views whatever else is evaluated."""
    return np.stack([np.random.default_rng([seed, int(scene)]).permutation(views) for scene in scenes])


def load_batch(dataset, scenes: np.ndarray, order: np.ndarray, contexts: int, size: int,
               device: torch.device) -> SceneBatch:
    """The query (order[:, 0]) and contexts (order[:, 1:K+1]) of some scenes, as model tensors."""
    rows, pick = scenes[:, None], order[:, : contexts + 1]
    height, width = dataset.images.shape[2:4]
    images = images_to_tensor(dataset.images[rows, pick], size)
    c2w = torch.as_tensor(dataset.c2w[rows, pick], dtype=torch.float32)
    intrinsics = torch.as_tensor(camera.normalise_intrinsics(dataset.intrinsics[rows, pick], width, height),
                                 dtype=torch.float32)
    parts = (images[:, 1:], c2w[:, 1:], intrinsics[:, 1:], images[:, 0], c2w[:, 0], intrinsics[:, 0])
    return SceneBatch(*(t.to(device) for t in parts))


def channels_last(images: torch.Tensor) -> torch.Tensor:
    """[...,3,H,W] -> [...,H,W,3], as gqn.metrics takes them."""
    return images.movedim(-3, -1)


@torch.inference_mode()
def evaluate_batch(model: GQN, batch: SceneBatch, samples: int, mean_image: torch.Tensor,
                   generator: torch.Generator) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Per-scene metrics [B] for every key of METRICS, and the prior samples [B,S,3,H,W]."""
    scenes = len(batch.query_image)
    config = model.config
    with model.autocast():
        context = model.encode(batch.context_images, batch.context_c2w, batch.context_intrinsics)
        cond, skip = model.condition(context, batch.query_c2w, batch.query_intrinsics,
                                     model.grid(batch.query_image.shape[-2:]))
        repeat_skip = None if skip is None else skip.repeat_interleave(samples, 0)
        draws = model.generator.sample(cond.repeat_interleave(samples, 0), generator, repeat_skip)
        side = config.state_size
        noise = torch.randn(config.steps, scenes, config.z_channels, side, side, generator=generator)
        _, kl, _ = model.generator.elbo(cond, batch.query_image, KL_SIGMA, noise.to(cond.device), skip)
    draws = draws.float().unflatten(0, (scenes, samples))

    index = torch.arange(scenes, device=draws.device)
    distance = (batch.context_c2w[:, :, :3, 3] - batch.query_c2w[:, None, :3, 3]).norm(dim=-1)
    nearest = batch.context_images[index, distance.argmin(1)]

    truth = channels_last(batch.query_image)
    sample_psnr = psnr(channels_last(draws), truth[:, None])                    # [B,S]
    best = draws[index, sample_psnr.argmax(1)]
    mean = draws.mean(1)
    dataset_mean = channels_last(mean_image.to(truth.device)).expand_as(truth)
    return {
        "psnr_mean": psnr(channels_last(mean), truth),
        "psnr_best": sample_psnr.max(1).values,
        "ssim_mean": ssim(channels_last(mean), truth),
        "ssim_best": ssim(channels_last(best), truth),
        "baseline_nearest_psnr": psnr(channels_last(nearest), truth),
        "baseline_nearest_ssim": ssim(channels_last(nearest), truth),
        "baseline_mean_psnr": psnr(dataset_mean, truth),
        "baseline_mean_ssim": ssim(dataset_mean, truth),
        "kl_per_image": kl.float(),
        "sample_spread": draws.std(1, unbiased=False).mean(dim=(1, 2, 3)),
    }, draws


def evaluate(model: GQN, dataset, scenes: np.ndarray, order: np.ndarray, contexts: int, samples: int,
             mean_image: torch.Tensor, seed: int = 0, batch: int = 8, progress: Progress | None = None,
             keep: int = 0) -> tuple[dict[str, float], list[list[np.ndarray]]]:
    """Mean of every METRICS key over the scenes, and grid rows (contexts, truth, mean, samples,
    std map as uint8 pictures) for the first `keep` scenes."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    totals = {key: 0.0 for key in METRICS}
    rows: list[list[np.ndarray]] = []
    for start in range(0, len(scenes), batch):
        part = slice(start, start + batch)
        scene_batch = load_batch(dataset, scenes[part], order[part], contexts, model.config.image_size, device)
        metrics, draws = evaluate_batch(model, scene_batch, samples, mean_image, generator)
        for key, values in metrics.items():
            totals[key] += float(values.double().sum())
        for i in range(min(len(draws), keep - len(rows))):
            rows.append(_grid_row(scene_batch, i, draws[i]))
        if progress is not None:
            progress.update(len(draws), contexts=contexts, psnr=float(metrics["psnr_mean"].mean()))
    return {key: total / len(scenes) for key, total in totals.items()}, rows


def _grid_row(batch: SceneBatch, i: int, draws: torch.Tensor) -> list[np.ndarray]:
    std = draws.std(0, unbiased=False).mean(0).cpu().numpy()   # [H,W]; the heat map is scaled later
    pictures = [*batch.context_images[i], batch.query_image[i], draws.mean(0), *draws[:GRID_SAMPLES]]
    return [tensor_to_images(p) for p in pictures] + [std]


def write_grid(rows: list[list[np.ndarray]], contexts: int, path: Path, title: str | None = None) -> None:
    """Rows from `evaluate(keep=…)` as a labelled PNG; the std maps share one colour scale."""
    samples = len(rows[0]) - contexts - 3
    vmax = max(SPREAD_SCALE, max(float(row[-1].max()) for row in rows))
    tiles = [row[:-1] + [heatmap(row[-1], vmax)] for row in rows]
    labels = ([f"context {k + 1}" for k in range(contexts)] + ["truth", "mean"]
              + [f"sample {s + 1}" for s in range(samples)] + [f"std 0-{vmax:.2f}"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    image_grid(tiles, labels, title).save(tmp)
    os.replace(tmp, path)


def dataset_mean(model: GQN, dataset) -> tuple[torch.Tensor, str]:
    """The dataset-mean baseline image [3,H,W] and where it came from: the training-set mean that
    training stores in the model, or, for a model without one, the evaluation data's own mean."""
    if not bool((model.data_mean == 0.5).all()):
        return model.data_mean, "training data (stored in the model)"
    from gqn.train import dataset_mean_image
    return dataset_mean_image(dataset, model.config.image_size), \
        "evaluation data (the model holds no training-set mean image)"


def _notes(model: GQN, dataset) -> list[str]:
    trained, meta = model.config.trained_on, dataset.meta
    notes = []
    if trained.get("seed") is not None and all(trained.get(k) == meta.get(k) for k in ("kind", "seed")):
        notes.append(f"the evaluation data was generated with the training data's kind and seed ({meta.get('seed')}): "
                     "its scenes are not held out")
    size = dataset.images.shape[2]
    if size != model.config.image_size:
        notes.append(f"the data is {size} px, the model {model.config.image_size} px: images were resized")
    return notes


def run(args: argparse.Namespace) -> int:
    from gqn.data.dataset import SceneDataset

    if args.views is not None:
        from gqn import evaluate_capture
        args.samples = 4 if args.samples is None else args.samples
        return evaluate_capture.run(args)
    args.samples = 8 if args.samples is None else args.samples

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.model is None:   # datasets are procedural scenes
        from gqn.shipped import DEFAULT_MODEL
        args.model = str(DEFAULT_MODEL)
    model = load_model(args.model, device)
    dataset = SceneDataset(args.data)
    total, views = dataset.images.shape[:2]
    for k in args.contexts:
        if not 1 <= k <= views - 1:
            raise GQNError(f"{args.data}: --contexts {k} is impossible; its scenes have {views} views, so 1 to "
                           f"{views - 1} contexts (one view is the query)")
    if args.samples < 1 or args.batch < 1 or (args.scenes is not None and args.scenes < 1):
        raise GQNError("--samples, --scenes and --batch must be at least 1")
    scenes = np.arange(min(total, args.scenes or total))
    order = choose_views(scenes, views, args.seed)
    mean_image, mean_source = dataset_mean(model, dataset)
    notes = _notes(model, dataset)

    results = []
    grid_rows: list[list[np.ndarray]] = []
    with Progress(len(scenes) * len(args.contexts), "evaluate", args.json) as progress:
        for k in args.contexts:
            keep = GRID_SCENES if args.grid and not results else 0
            metrics, rows = evaluate(model, dataset, scenes, order, k, args.samples, mean_image, args.seed,
                                     args.batch, progress, keep)
            results.append({"contexts": k, **metrics})
            grid_rows = grid_rows or rows
    if args.grid:
        first = results[0]
        title = (f"{Path(args.model).name}: {first['contexts']} contexts, PSNR of the mean {first['psnr_mean']:.2f} dB "
                 f"(nearest view {first['baseline_nearest_psnr']:.2f}, mean image {first['baseline_mean_psnr']:.2f})")
        write_grid(grid_rows, args.contexts[0], Path(args.grid), title)

    result = {**results[0], "samples": args.samples, "scenes": len(scenes), "seed": args.seed,
              "model": str(args.model), "data": str(args.data), "baseline_mean_from": mean_source,
              "parameters": model.num_parameters(), "notes": notes}
    if len(results) > 1:
        result["by_contexts"] = results
    if args.grid:
        result["grid"] = str(args.grid)
    if args.json:
        report({"event": "result", **result}, True)
    else:
        _print_table(results, result)
    return 0


def _print_table(results: list[dict[str, float]], result: dict) -> None:
    print(f"{result['scenes']} scenes, {result['samples']} samples, model {result['model']}, data {result['data']}")
    print(f"{'contexts':<22}" + "".join(f"{r['contexts']:>10}" for r in results))
    for key in METRICS:
        print(f"{key:<22}" + "".join(f"{r[key]:>10.4g}" for r in results))
    print(f"dataset mean image from {result['baseline_mean_from']}")
    for note in result["notes"]:
        print(f"note: {note}")
    if "grid" in result:
        print(f"grid written to {result['grid']}")
