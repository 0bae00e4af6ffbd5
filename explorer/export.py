"""Camera paths (JSON, seeded from the real cameras) and rendering them to MP4/GIF. No Qt, so the
same code runs in the app's worker thread and headless (`main.py PATH --render-path out.mp4`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import imageio.v3 as iio
import numpy as np
from PIL import Image

from gqn import camera
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.files import read_json_object
from explorer.inference import Predictor

FRAME_SIZE = 256  # each panel of a video frame is scaled to this height, in its own aspect
VIDEO_SUFFIXES = (".mp4", ".gif")


def keyframes_from_views(views: ViewSet, center: np.ndarray) -> np.ndarray:
    """The real cameras ordered by azimuth about the centre, the first repeated at the end: a loop."""
    offset = views.positions - center
    order = np.argsort(np.arctan2(offset[:, 1], offset[:, 0]))
    return np.concatenate([views.c2w[order], views.c2w[order[:1]]])


def orbit_poses(frames: int, center: np.ndarray, radius: float, elevation_deg: float) -> np.ndarray:
    return camera.orbit_path(frames, radius, elevation_deg, center)


def save_camera_path(path: str | Path, keyframes: np.ndarray, frames: int, fps: int = 24) -> None:
    data = {"format": "gqn-camera-path", "frames": int(frames), "fps": int(fps),
            "keyframes": [{"c2w": np.asarray(k).round(9).tolist()} for k in keyframes]}
    Path(path).write_text(json.dumps(data, indent=1) + "\n")


def load_camera_path(path: str | Path) -> dict[str, Any]:
    """{"keyframes": [K,4,4], "frames": int, "fps": int}; GQNError naming the file if malformed."""
    data = read_json_object(Path(path))
    try:
        keyframes = np.array([k["c2w"] for k in data["keyframes"]], np.float64)
    except (ValueError, KeyError, TypeError) as error:
        raise GQNError(f"{path}: not a camera path JSON ({error})") from None
    if keyframes.ndim != 3 or keyframes.shape[1:] != (4, 4) or not len(keyframes):
        raise GQNError(f"{path}: keyframes must be a list of 4×4 c2w matrices")
    bad = np.flatnonzero(~camera.valid_poses(keyframes))
    if len(bad):
        raise GQNError(f"{path}: keyframe {bad[0]} is not a rigid camera pose")
    counts = {"frames": data.get("frames", 60), "fps": data.get("fps", 24)}
    for key, value in counts.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100_000:
            raise GQNError(f"{path}: '{key}' is {value!r:.40}, not a whole number from 1 to 100000")
    return {"keyframes": keyframes, **counts}


def _panel(image: np.ndarray) -> np.ndarray:
    width = max(1, round(FRAME_SIZE * image.shape[1] / image.shape[0]))
    return np.asarray(Image.fromarray(image).resize((width, FRAME_SIZE), Image.Resampling.NEAREST))


def render_frames(predictor: Predictor, model: Any, views: ViewSet, context: tuple[int, ...], poses: np.ndarray,
                  samples: int = 4, seed: int = 0, truth: Callable[[np.ndarray], np.ndarray] | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  cancelled: Callable[[], bool] | None = None) -> list[np.ndarray] | None:
    """One frame per pose: the model's mean image, beside the true one when `truth` is given.
    Returns None when cancelled."""
    if model is None:
        raise GQNError("no model loaded: open a model folder before rendering a video")
    frames = []
    for i, c2w in enumerate(poses):
        if cancelled is not None and cancelled():
            return None
        mean, _ = predictor.predict(model, views, context, c2w, samples, seed)
        panels = [_panel(mean)] + ([_panel(truth(c2w))] if truth is not None else [])
        frames.append(np.concatenate(panels, axis=1))
        if progress is not None:
            progress(i + 1, len(poses))
    return frames


def check_video_path(out: str | Path) -> Path:
    """The video file name, refused before any frame is rendered: .mp4 or .gif, not a folder."""
    out = Path(out)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise GQNError(f"{out}: choose a .mp4 or .gif file name")
    if out.is_dir():
        raise GQNError(f"{out}: is a folder; give a file name ending in .mp4 or .gif")
    return out


def write_video(frames: list[np.ndarray], out: str | Path, fps: int = 24) -> Path:
    """MP4 (H.264 via imageio-ffmpeg) or GIF, chosen by the file's extension."""
    out = check_video_path(out)
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{suffix}")  # written whole, then renamed: never half a video
    stack = np.stack(frames)
    if suffix == ".mp4":
        iio.imwrite(tmp, stack, plugin="FFMPEG", fps=fps, codec="libx264", macro_block_size=16)
    else:
        iio.imwrite(tmp, stack, plugin="pillow", duration=1000.0 / fps, loop=0)
    tmp.replace(out)
    return out
