"""`gqn predict`: render what a model imagines from new cameras, given some views of a scene.

Queries are an orbit around the scene (--orbit N), cameras from a JSON file (--cameras), or by
default the scene's views that are not contexts (then the true image is shown next to the samples).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from gqn import camera
from gqn.errors import GQNError
from gqn.grid import image_grid
from gqn.data.images import fit_image, working_size
from gqn.nn.model import load_model
from gqn.progress import report
from gqn.shipped import MODEL_HELP, model_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help=MODEL_HELP)
    parser.add_argument("--views", required=True, help="a scene in any supported format, or a dataset (see --scene)")
    parser.add_argument("--scene", type=int, default=None, help="which scene of a multi-scene dataset")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--contexts", type=int, nargs="+", help="indices of the context views")
    which.add_argument("--contexts-count", type=int, default=3, help="use the first K views as contexts (default 3)")
    queries = parser.add_mutually_exclusive_group()
    queries.add_argument("--orbit", type=int, help="N cameras on a circle around the scene, at the contexts' height")
    queries.add_argument("--cameras", help='JSON: 4×4 OpenCV camera-to-world matrices (world z-up), as a list or {"c2w": [...]}')
    parser.add_argument("--samples", type=int, default=1, help="prior samples per query camera")
    parser.add_argument("--size", type=int, default=None,
                        help="long side of the rendered views in pixels (default: the model's resolution)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="a folder (one PNG per query and sample) or a .png (one grid)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def orbit_around(c2w: np.ndarray, n: int) -> np.ndarray:
    """n cameras circling the point the given cameras look at (least squares nearest to all their
    optical axes), at their mean distance and elevation: [n,4,4]."""
    positions, forward = c2w[:, :3, 3], c2w[:, :3, 2]
    off_axis = np.eye(3) - forward[:, :, None] * forward[:, None, :]   # projects out each viewing direction
    center = np.linalg.lstsq(off_axis.sum(0), np.einsum("nij,nj->i", off_axis, positions), rcond=None)[0]
    offsets = positions - center
    radius = float(np.linalg.norm(offsets, axis=1).mean())
    elevation = float(np.degrees(np.arcsin(np.clip(offsets[:, 2] / np.linalg.norm(offsets, axis=1), -1, 1)).mean()))
    azimuth = float(np.degrees(np.arctan2(offsets[0, 1], offsets[0, 0])))
    return camera.orbit_path(n, radius, elevation, center, start_azimuth_deg=azimuth)


def read_cameras(path: str) -> np.ndarray:
    try:
        data = json.loads(Path(path).read_text())
        c2w = data["c2w"] if isinstance(data, dict) else data
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GQNError(f"{path}: not a camera file ({error}); expected a list of 4×4 matrices or {{\"c2w\": [...]}}") from None
    return camera.as_poses(c2w, f"{path}: camera")


def run(args: argparse.Namespace) -> int:
    from gqn import load_views

    views = load_views(args.views, scene=args.scene)
    model = load_model(model_path(args.model, views))
    contexts = list(range(min(args.contexts_count, len(views)))) if args.contexts is None else args.contexts
    if not contexts or any(not 0 <= i < len(views) for i in contexts):
        raise GQNError(f"{args.views}: --contexts must name views 0 to {len(views) - 1}, got {contexts}")
    if args.samples < 1:
        raise GQNError("--samples must be at least 1")

    if args.size is not None and not 8 <= args.size <= 4096:
        raise GQNError(f"--size must be 8 to 4096 pixels, got {args.size}")
    long_side = args.size or model.config.image_size
    size = working_size(*views.size, long_side)
    query_intrinsics = views.normalised_intrinsics()[contexts[0]]
    truth = None
    if args.orbit is not None:
        queries = orbit_around(views.c2w[contexts], args.orbit)
    elif args.cameras is not None:
        queries = read_cameras(args.cameras)
    else:
        held_out = [i for i in range(len(views)) if i not in contexts]
        if not held_out:
            raise GQNError(f"{args.views}: every view is a context; give --orbit or --cameras, or fewer contexts")
        queries = views.c2w[held_out]
        query_intrinsics = views.normalised_intrinsics()[held_out]
        truth = [fit_image(image, size) for image in views.images[held_out]]
    images = model.predict(views[contexts], queries, samples=args.samples, seed=args.seed,
                           query_intrinsics=query_intrinsics, size=size)   # [Q,S,H,W,3]

    out = Path(args.out)
    if out.suffix.lower() == ".png":
        rows = [([truth[q]] if truth is not None else []) + list(images[q]) for q in range(len(images))]
        labels = (["truth"] if truth is not None else []) + [f"sample {s + 1}" for s in range(args.samples)]
        out.parent.mkdir(parents=True, exist_ok=True)
        image_grid(rows, labels).save(out)
        files = [str(out)]
    else:
        out.mkdir(parents=True, exist_ok=True)
        files = []
        for q, s in np.ndindex(images.shape[:2]):
            path = out / (f"{q:03d}.png" if args.samples == 1 else f"{q:03d}-{s}.png")
            Image.fromarray(images[q, s]).save(path)
            files.append(str(path))
    if args.json:
        report({"event": "result", "out": str(out), "files": files, "contexts": contexts,
                "queries": len(images), "samples": args.samples}, True)
    else:
        print(f"{len(images)} queries × {args.samples} samples from contexts {contexts}: wrote {out}")
    return 0
