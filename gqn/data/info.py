"""`gqn info PATH [--json]`: what a path holds — format, views, resolution, intrinsics, bounds, what was
skipped; every record of a TFRecord and every photo of a folder checked; models and runs described."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from gqn.data.images import DEFAULT_MAX_SIZE, ImageLoadError, load_image
from gqn.data.load import detect_format, load_views
from gqn.data.readers.common import skip
from gqn.data.readers.folder import NoPosesError, read_folder
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.progress import report

PHOTO_CHECK_SIZE = 64  # photos are decoded whole (a truncated one fails only there), at this size: cheap


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="transforms.json, COLMAP model, LLFF folder, dataset, .tfrecord, photo folder, "
                                     "model folder or training run")
    parser.add_argument("--scene", type=int, default=None, help="scene index of a multi-scene dataset or TFRecord")
    parser.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE,
                        help=f"longest side photos are loaded at (default {DEFAULT_MAX_SIZE})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    report(describe(Path(args.path), args.scene, args.max_size), args.json)
    return 0


def _bounds(values: np.ndarray) -> dict[str, list[float]]:
    return {"min": [round(float(v), 6) for v in values.min(0)], "max": [round(float(v), 6) for v in values.max(0)]}


def _range(values: np.ndarray) -> dict[str, float]:
    values = np.asarray(values, np.float64)
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
    if fmt in ("model", "run"):
        return describe_model(target, fmt)
    if fmt == "photos":
        return describe_photos(target)
    if fmt == "gqn-datasets":
        return describe_records(target, scene, max_size)
    views = load_views(path, scene=scene, max_size=max_size)
    summary = summarise(views)
    if fmt == "dataset":
        from gqn.data.dataset import SceneDataset
        summary.update(format="dataset", kind=views.meta.get("kind"), scenes=len(SceneDataset(target)),
                       scene=scene or 0)
    return summary


def describe_photos(folder: Path) -> dict[str, Any]:
    """Every photo decoded (small): the readable ones counted, the others listed with why."""
    try:
        read_folder(folder)
    except NoPosesError as error:
        photos = error.images
    unreadable = []
    for photo in photos:
        try:
            load_image(photo, PHOTO_CHECK_SIZE)
        except ImageLoadError as error:
            unreadable.append(skip(photo.name, str(error)))
    return {"format": "photos", "source": str(folder), "views": 0, "photos": len(photos) - len(unreadable),
            "unreadable": len(unreadable), "needs": f"pose estimation: gqn poses {folder} --out DIR",
            "skipped": unreadable}


def describe_records(path: Path, scene: int | None, max_size: int | None) -> dict[str, Any]:
    """Every record checked (framing, CRCs, protobuf, JPEGs); one scene described (the first good
    one unless `scene` is given); the corrupt records listed in `skipped`."""
    from gqn.data.tfrecord import scenes_in
    good, corrupt = [], []
    for index, _, problem in scenes_in(path):
        if problem is None:
            good.append(index)
        else:
            corrupt.append(skip(f"{path.name}#{index}", problem))
    if scene is None and not good:
        raise GQNError(f"{path}: no readable record — {corrupt[0]['name']}: {corrupt[0]['reason']}" if corrupt
                       else f"{path}: holds no records")
    chosen = good[0] if scene is None else scene
    summary = summarise(load_views(path, scene=chosen, max_size=max_size))
    summary.update(scenes=len(good), records=len(good) + len(corrupt), scene=chosen,
                   skipped=summary["skipped"] + corrupt)
    return summary


def describe_model(folder: Path, fmt: str) -> dict[str, Any]:
    """A model folder or training run: preset, parameters, what it was trained on, its card's figures.
    The weights are read and checked as load_model checks them."""
    from gqn.checkpoint import meta_model, read_model_folder, resolve_model_folder
    from gqn.files import read_json_object, read_text
    config, _ = read_model_folder(folder)
    checkpoint = resolve_model_folder(folder)
    summary: dict[str, Any] = {
        "format": fmt, "source": str(folder), "preset": preset_name(config),
        "parameters": meta_model(config).num_parameters(), "representation": config.representation,
        "image_size": config.image_size, "trained_on": config.trained_on, "skipped": []}
    if fmt == "run":
        summary["checkpoint"] = str(checkpoint)
        try:
            step = read_json_object(checkpoint / "train.json").get("step")
        except GQNError as error:
            summary["skipped"].append(skip("train.json", str(error)))
        else:
            if isinstance(step, int) and not isinstance(step, bool):
                summary["step"] = step
            else:
                summary["skipped"].append(skip("train.json", f"step is {step!r:.40}, not a whole number"))
    card = next((f for f in (checkpoint / "card.md", folder / "card.md") if f.is_file()), None)
    if card is not None:
        try:
            summary["card"] = card_summary(read_text(card))
        except GQNError as error:
            summary["skipped"].append(skip("card.md", str(error)))
    return summary


def preset_name(config) -> str:
    """The named preset a config was built from (size, precision and depth range aside), or "custom"."""
    from gqn.config import presets
    aside = {"image_size", "bf16", "epipolar_near", "epipolar_far", "trained_on"}
    same = [name for name, preset in presets.items()
            if all(getattr(config, f.name) == getattr(preset, f.name)
                   for f in dataclasses.fields(config) if f.name not in aside)]
    return same[0] if same else "custom"


def card_summary(text: str) -> dict[str, Any]:
    """A model card's title and the rows of its tables ({column: cell}): the figures it reports."""
    title = next((line.lstrip("#").strip() for line in text.splitlines() if line.startswith("# ")), None)
    figures, header = [], None
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.strip().startswith("|"):
            header = None
        elif header is None:
            header = cells
        elif not all(set(cell) <= set("-: ") for cell in cells):
            figures.append(dict(zip(header, cells)))
    return {"title": title, "figures": figures}
