"""NeRF / instant-ngp / nerfstudio `transforms.json`: OpenGL camera-to-world poses, one json for all frames.

Intrinsics come from `fl_x/fl_y/cx/cy/w/h` or `camera_angle_x` (and `camera_angle_y`), at the top
level or overridden per frame; distortion (k1 k2 k3 k4 p1 p2) is recorded in meta, not undone.
`file_path` is relative to the json and may leave out the extension (the NeRF synthetic scenes do).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from gqn import camera
from gqn.data.images import DEFAULT_MAX_SIZE, IMAGE_EXTENSIONS, ImageLoadError, image_size, is_regular_file
from gqn.data.readers.common import Frame, frames_to_viewset, reasons, skip
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.files import read_json

DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")


def find_image(base: Path, file_path: str) -> Path | None:
    """The photo `file_path` names, trying the usual extensions when it has none (or not this one)."""
    path = base / file_path
    if is_regular_file(path):
        return path
    for ext in IMAGE_EXTENSIONS:
        for candidate in (path.with_name(path.name + ext), path.with_name(path.name + ext.upper())):
            if is_regular_file(candidate):
                return candidate
    return None


def _number(cam: dict[str, Any], key: str) -> float | None:
    """cam[key] as a float, None when absent; ValueError naming the key when it is not a finite number."""
    value = cam.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key} is {value!r:.40}, not a finite number")
    return float(value)


def _pixels(cam: dict[str, Any], key: str) -> int | None:
    value = _number(cam, key)
    if value is not None and (value < 1 or value != int(value)):
        raise ValueError(f"{key} is {value!r}, not a whole number of pixels of at least 1")
    return None if value is None else int(value)


def _focal(cam: dict[str, Any], key: str, angle_key: str, side: int) -> float | None:
    """fl_x (or fl_y) as given, else from the field of view camera_angle_x (or _y), else None."""
    focal, angle = _number(cam, key), _number(cam, angle_key)
    if focal is None and angle is not None:
        if not 0 < angle < math.pi:
            raise ValueError(f"{angle_key} is {angle!r}, not an angle between 0 and π radians")
        focal = 0.5 * side / math.tan(0.5 * angle)
    return focal


def frame_intrinsics(cam: dict[str, Any], image: Path) -> tuple[np.ndarray | None, tuple[int, int]]:
    """(fx, fy, cx, cy) or None, and the (w, h) they refer to (read from the photo when not given).

    ValueError (naming the key) when a value is not a number, or not a size or angle that can be."""
    width, height = _pixels(cam, "w"), _pixels(cam, "h")
    if width is None or height is None:
        width, height = image_size(image)
    fx = _focal(cam, "fl_x", "camera_angle_x", width)
    if fx is None:
        return None, (width, height)
    fy = _focal(cam, "fl_y", "camera_angle_y", height)
    fy = fx if fy is None else fy
    cx, cy = _number(cam, "cx"), _number(cam, "cy")
    return np.array([fx, fy, width / 2.0 if cx is None else cx, height / 2.0 if cy is None else cy]), (width, height)


def _unregistered(data: dict[str, Any]) -> list[dict[str, str]]:
    """The photos a pose estimator listed as not registered (`gqn poses` writes them)."""
    entries = data.get("unregistered")
    if not isinstance(entries, list):
        return []
    return [skip(str(e.get("name")), str(e.get("reason", "not registered"))) for e in entries if isinstance(e, dict)]


def read_nerf(path: Path, max_size: int | None = DEFAULT_MAX_SIZE) -> ViewSet:
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise GQNError(f"{path}: no 'frames' list; not a NeRF-style transforms.json")
    shared = {k: v for k, v in data.items() if k != "frames"}
    skipped = _unregistered(data)
    frames = []
    for index, entry in enumerate(data["frames"]):
        file_path = entry.get("file_path") if isinstance(entry, dict) else None
        name = file_path if isinstance(file_path, str) and file_path else f"frame {index}"
        if not isinstance(file_path, str) or not file_path:
            skipped.append(skip(name, "frame has no file_path (a file name)"))
            continue
        image = find_image(path.parent, file_path)
        if image is None:
            skipped.append(skip(name, "file not found"))
            continue
        try:
            pose = np.array(entry.get("transform_matrix"), dtype=np.float64)
            if pose.shape not in ((4, 4), (3, 4)):
                raise ValueError(f"transform_matrix has shape {pose.shape}, not 4×4")
            cam = {**shared, **entry}
            intrinsics, size = frame_intrinsics(cam, image)
            distortion = {k: _number(cam, k) for k in DISTORTION_KEYS if cam.get(k)}
        except (TypeError, ValueError) as error:
            skipped.append(skip(name, f"bad transform_matrix or intrinsics ({error})"))
            continue
        except ImageLoadError as error:
            skipped.append(skip(name, f"{image.name}: {error}"))
            continue
        frames.append(Frame(name, image, camera.opengl_to_opencv(pose), intrinsics, size, distortion))
    if not frames:
        raise GQNError(f"{path}: no frame could be used — {reasons(skipped) or 'it lists no frames'}")
    points, colors = read_point_cloud(path.parent, data.get("ply_file_path"), skipped)
    return frames_to_viewset(frames, "nerf", path, max_size, skipped, points=points, point_colors=colors)


def read_point_cloud(base: Path, ply_file_path: Any, skipped: list[dict[str, str]]
                     ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The sparse points of nerfstudio's `ply_file_path` (same world as the frames): xyz float32
    [P,3] and colours uint8 [P,3]; (None, None), with the reason in `skipped`, when it is unusable."""
    if ply_file_path is None:
        return None, None
    import trimesh
    path = base / str(ply_file_path)
    try:
        cloud = trimesh.load(path, file_type="ply", process=False)
        xyz = np.asarray(cloud.vertices, np.float32).reshape(-1, 3)
        colors = np.asarray(getattr(cloud, "colors", np.zeros((0, 4))), np.uint8).reshape(-1, 4)[:, :3]
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as error:  # trimesh's kinds
        skipped.append(skip(str(ply_file_path), f"sparse points unreadable ({type(error).__name__}: {error})"))
        return None, None
    keep = np.isfinite(xyz).all(1)
    if not keep.any():
        skipped.append(skip(str(ply_file_path), "sparse points file holds no finite points"))
        return None, None
    colors = colors[keep] if len(colors) == len(xyz) else np.full((int(keep.sum()), 3), 200, np.uint8)
    return xyz[keep], colors
