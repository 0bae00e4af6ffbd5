"""Rendering camera paths and orbits to MP4/GIF. No Qt, so the same code runs in the app's worker
thread and headless (`main.py PATH --render-path out.mp4`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import imageio.v3 as iio
import numpy as np
from PIL import Image

from gqn import camera
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from explorer.inference import Predictor

FRAME_SIZE = 256  # each panel of a video frame is scaled to this height, in its own aspect, unless told otherwise
VIDEO_SUFFIXES = (".mp4", ".gif")


def orbit_poses(frames: int, center: np.ndarray, radius: float, elevation_deg: float) -> np.ndarray:
    return camera.orbit_path(frames, radius, elevation_deg, center)


def check_video_path(out: str | Path) -> Path:
    """`out` if a video can be written there (.mp4 or .gif, in a folder that exists or can be made and
    can be written); else GQNError saying why, before any frame is rendered."""
    out = Path(out)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise GQNError(f"{out}: choose a .mp4 or .gif file name")
    if out.is_dir():
        raise GQNError(f"{out}: is a folder; choose a file name")
    folder = next((p for p in [out.parent, *out.parent.parents] if p.exists()), None)
    if folder is None or not folder.is_dir() or not os.access(folder, os.W_OK):
        raise GQNError(f"{out}: cannot write in {folder or out.parent}")
    return out


def _panel(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(height * image.shape[1] / image.shape[0]))
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.NEAREST))


def render_frames(predictor: Predictor, model: Any, views: ViewSet, context: tuple[int, ...], poses: np.ndarray,
                  samples: int = 4, seed: int = 0, truth: Callable[[np.ndarray], np.ndarray] | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  cancelled: Callable[[], bool] | None = None, frame_size: int = FRAME_SIZE
                  ) -> list[np.ndarray] | None:
    """One frame per pose: the model's mean image, beside the true one when `truth` is given, each
    `frame_size` pixels high in its own aspect. Returns None when cancelled."""
    if model is None:
        raise GQNError("no model loaded: open a model folder before rendering a video")
    frames = []
    for i, c2w in enumerate(poses):
        if cancelled is not None and cancelled():
            return None
        mean, _ = predictor.predict(model, views, context, c2w, samples, seed)
        panels = [_panel(mean, frame_size)] + ([_panel(truth(c2w), frame_size)] if truth is not None else [])
        frames.append(np.concatenate(panels, axis=1))
        if progress is not None:
            progress(i + 1, len(poses))
    return frames


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
