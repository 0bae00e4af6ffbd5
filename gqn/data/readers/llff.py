"""LLFF captures: `poses_bounds.npy` (N×17: a 3×5 [down, right, back | t | h w f] matrix per photo, then the
near/far bounds) beside `images/` (or the downscaled `images_N/`), photos in sorted name order."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from gqn import camera
from gqn.data.images import DEFAULT_MAX_SIZE, ImageLoadError, image_size, list_images
from gqn.data.readers.common import Frame, frames_to_viewset
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.files import load_npy


def image_folders(folder: Path) -> list[Path]:
    """images/ then images_2/, images_4/, ...: the full-size photos first."""
    scaled = [p for p in folder.glob("images_*") if p.is_dir() and re.fullmatch(r"images_\d+", p.name)]
    return [p for p in [folder / "images", *sorted(scaled, key=lambda p: int(p.name[7:]))] if p.is_dir()]


def pick_image_folder(folder: Path, count: int, max_size: int | None) -> Path:
    """The smallest copy of the photos that is still at least `max_size` on its longest side."""
    usable = []
    for candidate in image_folders(folder):
        files = list_images(candidate)
        if len(files) != count:
            continue
        try:
            usable.append((max(image_size(files[0], honour_exif=False)), candidate))
        except ImageLoadError:
            usable.append((0, candidate))
    if not usable:
        held = ", ".join(f"{p.name}/ holds {len(list_images(p))}" for p in image_folders(folder)) or "no images/ folder"
        raise GQNError(f"{folder / 'poses_bounds.npy'}: {count} poses but no image folder with {count} photos ({held})")
    large_enough = [entry for entry in usable if max_size is not None and entry[0] >= max_size]
    return min(large_enough)[1] if large_enough else max(usable)[1]


def read_llff(folder: Path, max_size: int | None = DEFAULT_MAX_SIZE) -> ViewSet:
    folder = Path(folder)
    path = folder / "poses_bounds.npy"
    data = load_npy(path)
    if data.ndim != 2 or data.shape[1] != 17 or not np.issubdtype(data.dtype, np.floating) or not len(data):
        raise GQNError(f"{path}: expected a float N×17 array with N >= 1, got {data.dtype} {data.shape}")
    c2w, hwf = camera.llff_to_c2w(data[:, :15].reshape(-1, 3, 5))
    image_folder = pick_image_folder(folder, len(data), max_size)
    frames = []
    for pose, (height, width, focal), photo in zip(c2w, hwf, list_images(image_folder)):
        size = (int(round(width)), int(round(height))) if np.isfinite([width, height]).all() else None
        intrinsics = np.array([focal, focal, width / 2.0, height / 2.0])
        frames.append(Frame(photo.name, photo, pose, intrinsics, size))
    meta = {"image_folder": str(image_folder)}
    near, far = data[:, 15][np.isfinite(data[:, 15])], data[:, 16][np.isfinite(data[:, 16])]
    if len(near) and len(far):
        meta["depth_range"] = [float(near.min()), float(far.max())]
    # LLFF poses come from COLMAP, which works on the raw pixel grid: no EXIF rotation.
    return frames_to_viewset(frames, "llff", folder, max_size, honour_exif=False, meta=meta)
