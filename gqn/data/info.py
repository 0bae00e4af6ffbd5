"""`gqn info PATH [--json]`: what a path holds — format, views, resolution, intrinsics, bounds, what was skipped."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from gqn.data.images import DEFAULT_MAX_SIZE
from gqn.data.load import detect_format, load_views
from gqn.data.readers.folder import NoPosesError
from gqn.data.viewset import ViewSet
from gqn.progress import report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="transforms.json, COLMAP model, LLFF folder, dataset, .tfrecord or photo folder")
    parser.add_argument("--scene", type=int, default=None, help="scene index of a multi-scene dataset or TFRecord")
    parser.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE,
                        help=f"longest side photos are loaded at (default {DEFAULT_MAX_SIZE})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    report(describe(Path(args.path), args.scene, args.max_size), args.json)
    return 0


def _bounds(values: np.ndarray) -> dict[str, list[float]]:
    return {"min": np.round(values.min(0), 6).tolist(), "max": np.round(values.max(0), 6).tolist()}


def _range(values: np.ndarray) -> dict[str, float]:
    return {"min": round(float(values.min()), 3), "max": round(float(values.max()), 3),
            "mean": round(float(values.mean()), 3)}


def summarise(views: ViewSet) -> dict[str, Any]:
    height, width = views.size
    fx, fy, cx, cy = views.intrinsics.T
    summary = {
        "format": views.meta.get("format"), "source": views.source, "views": len(views),
        "resolution": [width, height],
        "fov_x_deg": _range(np.rad2deg(2 * np.arctan(width / (2 * fx)))),
        "fov_y_deg": _range(np.rad2deg(2 * np.arctan(height / (2 * fy)))),
        "principal_point": {"cx": _range(cx), "cy": _range(cy)},
        "camera_positions": _bounds(views.positions),
        "points": 0 if views.points is None else len(views.points),
    }
    if views.points is not None and len(views.points):
        summary["points_bounds"] = _bounds(views.points)
    for key in ("assumed_fov_deg", "depth_range", "image_folder"):
        if key in views.meta:
            summary[key] = views.meta[key]
    if "distortion" in views.meta:
        summary["distorted_views"] = len(views.meta["distortion"])
    summary["skipped"] = list(views.skipped)
    return summary


def describe(path: Path, scene: int | None = None, max_size: int | None = DEFAULT_MAX_SIZE) -> dict[str, Any]:
    """The summary `gqn info` prints. A photo folder without poses is described, not an error."""
    fmt, target = detect_format(path)
    try:
        views = load_views(path, scene=scene, max_size=max_size)
    except NoPosesError as error:
        return {"format": "photos", "source": str(target), "views": 0, "photos": len(error.images),
                "needs": f"pose estimation: gqn poses {target} --out DIR", "skipped": []}
    summary = summarise(views)
    if fmt == "dataset":
        from gqn.data.dataset import SceneDataset
        summary.update(format="dataset", kind=views.meta.get("kind"), scenes=len(SceneDataset(target)),
                       scene=scene or 0)
    elif fmt == "gqn-datasets":
        from gqn.data.tfrecord import read_records
        summary.update(scenes=sum(1 for _ in read_records(target)), scene=scene or 0)
    return summary
