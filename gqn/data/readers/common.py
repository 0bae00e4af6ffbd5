"""What every reader shares: a frame list (pose + photo + intrinsics) turned into a ViewSet.

Readers only parse their format into `Frame`s; checking poses, loading photos, skipping what cannot
be used and bringing every view to one size happens here, once.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gqn import camera
from gqn.data.images import DEFAULT_MAX_SIZE, ImageLoadError, image_size, load_image, scale_intrinsics, to_common_size
from gqn.data.viewset import DEFAULT_FOV_DEG, ViewSet
from gqn.errors import GQNError


@dataclass
class Frame:
    name: str                                # as the source names it
    path: Path                               # the photo
    c2w: np.ndarray                          # [4,4] OpenCV camera-to-world, already converted
    intrinsics: np.ndarray | None = None     # (fx, fy, cx, cy) in pixels of `size`; None: DEFAULT_FOV_DEG
    size: tuple[int, int] | None = None      # (width, height) the intrinsics refer to; None: the photo's own
    distortion: dict[str, float] = field(default_factory=dict)  # recorded, not undone


def skip(name: str, reason: str) -> dict[str, str]:
    return {"name": name, "reason": reason}


def reasons(skipped: list[dict[str, str]], limit: int = 3) -> str:
    """The first few skipped entries as one line, for an error message."""
    text = "; ".join(f"{s['name']}: {s['reason']}" for s in skipped[:limit])
    return text + (f" (and {len(skipped) - limit} more)" if len(skipped) > limit else "")


def pose_problem(c2w: np.ndarray) -> str | None:
    """Why a pose cannot be used, or None when it can."""
    c2w = np.asarray(c2w, np.float64)
    if c2w.shape != (4, 4):
        return f"pose has shape {c2w.shape}, not 4×4"
    if not np.isfinite(c2w).all():
        return "pose has NaN or infinite values"
    if not (np.abs(c2w[:3, 3]) < camera.MAX_COORDINATE).all():
        return f"camera position {c2w[:3, 3].tolist()} is farther out than {camera.MAX_COORDINATE:g} scene units"
    if not camera.valid_poses(c2w):
        return "pose is not a rigid transform (singular, scaled or mirrored rotation)"
    return None


MAX_ASPECT_CHANGE = 1.25   # a photo whose width/height differs more from the capture's is skipped, not cut down


def aspect_outliers(images: list[np.ndarray], names: list[str], skipped: list[dict[str, str]]) -> list[int]:
    """Indices of the photos to keep: those of about the capture's most common aspect. Cropping a
    portrait photo into a landscape capture would lose most of it, so it is skipped, with the reason."""
    aspects = [image.shape[1] / image.shape[0] for image in images]
    common = Counter(round(a, 2) for a in aspects).most_common(1)[0][0]
    keep = []
    for i, aspect in enumerate(aspects):
        if max(aspect / common, common / aspect) > MAX_ASPECT_CHANGE:
            skipped.append(skip(names[i], f"{images[i].shape[1]}×{images[i].shape[0]} px does not match the capture's "
                                          f"aspect ({common:.2f}:1); rotate or crop it to the others' shape"))
        else:
            keep.append(i)
    return keep


def camera_problem(frame: Frame) -> str | None:
    """Why a frame's intrinsics cannot be used, or None when they can."""
    k = frame.intrinsics
    if k is not None and not camera.valid_intrinsics(k):
        return f"intrinsics {np.round(k, 3).tolist()} are not finite and positive (or absurdly large)"
    if frame.size is not None and not all(1 <= side < math.inf for side in frame.size):
        return f"the image size {frame.size[0]}×{frame.size[1]} its intrinsics refer to is not positive"
    return None


def upright_copy(frame: Frame) -> bool:
    """Whether a reader that ignores EXIF orientation (COLMAP does) was made from upright copies of
    this photo (`gqn poses` makes them): its camera's size is the photo's size once turned upright."""
    if frame.size is None:
        return False
    raw, upright = image_size(frame.path, honour_exif=False), image_size(frame.path)
    return raw != upright and tuple(frame.size) == upright


def frames_to_viewset(frames: list[Frame], fmt: str, source: Path, max_size: int | None = DEFAULT_MAX_SIZE,
                      skipped: list[dict[str, str]] | None = None, honour_exif: bool = True,
                      meta: dict[str, Any] | None = None, **extra: Any) -> ViewSet:
    """Load every usable frame; list the others in `skipped`; one GQNError when none is usable."""
    skipped = list(skipped or [])
    images, intrinsics, poses, names, distortion = [], [], [], [], {}
    assumed_fov = False
    for frame in frames:
        problem = pose_problem(frame.c2w) or camera_problem(frame)
        if problem is not None:
            skipped.append(skip(frame.name, problem))
            continue
        try:
            pixels, full_size = load_image(frame.path, max_size, honour_exif or upright_copy(frame))
        except ImageLoadError as error:
            skipped.append(skip(frame.name, str(error)))
            continue
        k = frame.intrinsics
        if k is None:
            k, assumed_fov = camera.intrinsics_from_fov(*full_size, DEFAULT_FOV_DEG), True
        elif frame.size is not None and tuple(frame.size) != full_size:
            k = scale_intrinsics(k, frame.size, full_size)
        images.append(pixels)
        intrinsics.append(scale_intrinsics(k, full_size, (pixels.shape[1], pixels.shape[0])))
        poses.append(frame.c2w)
        names.append(frame.name)
        if frame.distortion:
            distortion[frame.name] = frame.distortion
    if not images:
        raise GQNError(f"{source}: no view could be used — {reasons(skipped)}")
    keep = aspect_outliers(images, names, skipped)
    images, intrinsics, poses, names = ([items[i] for i in keep] for items in (images, intrinsics, poses, names))
    stacked, intrinsics = to_common_size(images, intrinsics)
    meta = {"format": fmt, **(meta or {})}
    if assumed_fov:
        meta["assumed_fov_deg"] = DEFAULT_FOV_DEG
    if distortion:
        meta["distortion"] = distortion  # by view name, so that it survives slicing the ViewSet
    return ViewSet(images=stacked, c2w=np.array(poses), intrinsics=intrinsics, names=names, source=str(source),
                   skipped=skipped, meta=meta, **extra)
