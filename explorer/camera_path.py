"""A camera path: keyframes (poses of the imagined camera), each with the seconds the camera takes to
the next one, played at a frame rate. No Qt: the window's timeline, `main.py --render-path` and the
tests share it. Saved as JSON: {"format": "gqn-camera-path", "fps", "frames",
"keyframes": [{"c2w": 4×4, "duration": seconds}]}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gqn import camera
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.files import read_json_object

FORMAT = "gqn-camera-path"
DEFAULT_FPS = 24
DEFAULT_DURATION = 1.0    # seconds from a new keyframe to the next
MIN_DURATION = 0.05
MAX_FPS = 240
MAX_DURATION_S = 3600.0   # per keyframe: a saved path never asks for days of frames


@dataclass
class Keyframe:
    c2w: np.ndarray                  # [4,4] camera-to-world
    duration: float = DEFAULT_DURATION  # seconds to the next keyframe (the last keyframe's is not used)


class CameraPath:
    def __init__(self, keyframes: list[Keyframe] | None = None, fps: int = DEFAULT_FPS) -> None:
        self.keyframes: list[Keyframe] = list(keyframes or [])
        self.fps = int(fps)

    def __len__(self) -> int:
        return len(self.keyframes)

    # --- editing ---------------------------------------------------------------------------------------

    def add(self, c2w: np.ndarray, index: int | None = None, duration: float = DEFAULT_DURATION) -> int:
        """Insert a keyframe at `index` (default: the end); returns where it went."""
        index = len(self) if index is None else int(np.clip(index, 0, len(self)))
        self.keyframes.insert(index, Keyframe(np.array(c2w, np.float64), max(float(duration), MIN_DURATION)))
        return index

    def remove(self, index: int) -> None:
        del self.keyframes[index]

    def move(self, index: int, to: int) -> None:
        """Take keyframe `index` out and put it back at position `to` (of the path without it)."""
        self.keyframes.insert(int(np.clip(to, 0, len(self) - 1)), self.keyframes.pop(index))

    def set_duration(self, index: int, seconds: float) -> None:
        self.keyframes[index].duration = max(float(seconds), MIN_DURATION)

    def clear(self) -> None:
        self.keyframes.clear()

    # --- time ------------------------------------------------------------------------------------------

    @property
    def times(self) -> np.ndarray:
        """[K] the time (seconds) at which the camera is on each keyframe."""
        durations = [k.duration for k in self.keyframes[:-1]]
        return np.concatenate([[0.0], np.cumsum(durations)]) if self.keyframes else np.zeros(0)

    @property
    def duration(self) -> float:
        return float(self.times[-1]) if self.keyframes else 0.0

    def poses_at(self, seconds: np.ndarray) -> np.ndarray:
        """[N,4,4] poses at times `seconds`: along straight lines between keyframes, turning by slerp."""
        if not self.keyframes:
            raise GQNError("the camera path has no keyframes: add one at the imagined camera first")
        times, seconds = self.times, np.clip(np.atleast_1d(np.asarray(seconds, np.float64)), 0.0, self.duration)
        if len(self) == 1:
            return camera.poses_at(self.keyframes[0].c2w[None], np.zeros(len(seconds)))
        segment = np.clip(np.searchsorted(times, seconds, side="right") - 1, 0, len(self) - 2)
        durations = np.array([k.duration for k in self.keyframes])
        position = segment + (seconds - times[segment]) / durations[segment]
        return camera.poses_at(np.stack([k.c2w for k in self.keyframes]), position)

    def pose_at(self, seconds: float) -> np.ndarray:
        return self.poses_at(np.array([seconds]))[0]

    def frame_count(self, fps: int | None = None) -> int:
        return int(round(self.duration * (fps or self.fps))) + 1

    def frames(self, fps: int | None = None) -> np.ndarray:
        """[N,4,4] one pose per video frame, the first and last on the first and last keyframes."""
        return self.poses_at(np.linspace(0.0, self.duration, self.frame_count(fps)))

    # --- files -----------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        data = {"format": FORMAT, "fps": self.fps, "frames": self.frame_count(),
                "keyframes": [{"c2w": np.asarray(k.c2w).round(9).tolist(), "duration": round(k.duration, 6)}
                              for k in self.keyframes]}
        Path(path).write_text(json.dumps(data, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "CameraPath":
        """Read a saved path; GQNError naming the file when it is not one. A path saved without
        durations spreads its `frames` evenly over its keyframes."""
        data = read_json_object(Path(path))
        try:
            entries = data["keyframes"]
            keyframes = np.array([k["c2w"] for k in entries], np.float64)
            fps = int(data.get("fps", DEFAULT_FPS))
            frames = int(data.get("frames", 60))
            durations = [float(k.get("duration", (frames - 1) / fps / max(len(entries) - 1, 1))) for k in entries]
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as error:
            raise GQNError(f"{path}: not a camera path JSON ({error})") from None
        keyframes = camera.as_poses(keyframes, f"{path}: keyframe")
        if not 0 < fps <= MAX_FPS or not all(np.isfinite(d) and 0 < d <= MAX_DURATION_S for d in durations):
            raise GQNError(f"{path}: fps (at most {MAX_FPS}) and every keyframe's duration (at most {MAX_DURATION_S:g} s) "
                           "must be positive")
        return cls([Keyframe(k, d) for k, d in zip(keyframes, durations)], fps)

    @classmethod
    def through_views(cls, views: ViewSet, center: np.ndarray, seconds: float = DEFAULT_DURATION) -> "CameraPath":
        """A loop through the real cameras ordered by azimuth about `center`, back to the first."""
        offset = views.positions - center
        order = np.argsort(np.arctan2(offset[:, 1], offset[:, 0]))
        return cls([Keyframe(views.c2w[i].copy(), seconds) for i in [*order, order[0]]])
