"""NeRF / instant-ngp / nerfstudio `transforms.json`: OpenGL camera-to-world poses, one json for all frames.

Intrinsics come from `fl_x/fl_y/cx/cy/w/h` or `camera_angle_x` (and `camera_angle_y`), at the top
level or overridden per frame; distortion (k1 k2 k3 k4 p1 p2) is recorded in meta, not undone.
`file_path` is relative to the json and may leave out the extension (the NeRF synthetic scenes do).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from gqn import camera
from gqn.data.images import DEFAULT_MAX_SIZE, IMAGE_EXTENSIONS, ImageLoadError, image_size
from gqn.data.readers.common import Frame, frames_to_viewset, reasons, skip
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError

DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")


def find_image(base: Path, file_path: str) -> Path | None:
    """The photo `file_path` names, trying the usual extensions when it has none (or not this one)."""
    path = base / file_path
    if path.is_file():
        return path
    for ext in IMAGE_EXTENSIONS:
        for candidate in (path.with_name(path.name + ext), path.with_name(path.name + ext.upper())):
            if candidate.is_file():
                return candidate
    return None


def frame_intrinsics(cam: dict[str, Any], image: Path) -> tuple[np.ndarray | None, tuple[int, int]]:
    """(fx, fy, cx, cy) or None, and the (w, h) they refer to (read from the photo when not given)."""
    if cam.get("w") and cam.get("h"):
        width, height = int(cam["w"]), int(cam["h"])
    else:
        width, height = image_size(image)
    fx = cam.get("fl_x")
    if fx is None and cam.get("camera_angle_x") is not None:
        fx = 0.5 * width / math.tan(0.5 * float(cam["camera_angle_x"]))
    if fx is None:
        return None, (width, height)
    fy = cam.get("fl_y")
    if fy is None:
        fy = 0.5 * height / math.tan(0.5 * float(cam["camera_angle_y"])) if cam.get("camera_angle_y") else fx
    cx, cy = cam.get("cx", width / 2.0), cam.get("cy", height / 2.0)
    return np.array([fx, fy, cx, cy], np.float64), (width, height)


def read_nerf(path: Path, max_size: int | None = DEFAULT_MAX_SIZE) -> ViewSet:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GQNError(f"{path}: not a readable JSON file ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise GQNError(f"{path}: no 'frames' list; not a NeRF-style transforms.json")
    shared = {k: v for k, v in data.items() if k != "frames"}
    skipped = [skip(str(s.get("name")), str(s.get("reason", "not registered")))
               for s in data.get("unregistered", []) if isinstance(s, dict)]
    frames = []
    for index, entry in enumerate(data["frames"]):
        name = str(entry.get("file_path", f"frame {index}")) if isinstance(entry, dict) else f"frame {index}"
        if not isinstance(entry, dict) or "file_path" not in entry:
            skipped.append(skip(name, "frame has no file_path"))
            continue
        image = find_image(path.parent, entry["file_path"])
        if image is None:
            skipped.append(skip(name, "file not found"))
            continue
        try:
            pose = np.array(entry["transform_matrix"], dtype=np.float64)
            if pose.shape not in ((4, 4), (3, 4)):
                raise ValueError(f"shape {pose.shape}")
            cam = {**shared, **entry}
            intrinsics, size = frame_intrinsics(cam, image)
        except (KeyError, TypeError, ValueError) as error:
            skipped.append(skip(name, f"bad transform_matrix or intrinsics ({error})"))
            continue
        except ImageLoadError as error:
            skipped.append(skip(name, f"{image.name}: {error}"))
            continue
        distortion = {k: float(cam[k]) for k in DISTORTION_KEYS if cam.get(k)}
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
