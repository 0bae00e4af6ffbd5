"""How a capture sits in the viewport, without Qt: which way is up, how far apart its cameras are,
which sparse points to draw, and the region box that limits what the model and baselines consider.

The region lives in the scene's own meta as `views.meta["region"] = {"min": [x,y,z], "max": [x,y,z]}`
(scene coordinates), where `predict` and the baselines read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from gqn.data.normalize import Z_UP, capture_up, rotation_between
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError

# Sparse points drawn (a fixed random subset): llvmpipe spends ~1.3 µs per point and frame (a 100-photo
# capture at 1280×800 took 5 / 16 / 31 ms a frame with 0 / 10k / 20k points, benchmarks/bench_explorer.py).
MAX_POINTS = 10000
FRUSTUM_SPACING = 0.6        # frustum depth as a fraction of the median gap between neighbouring cameras
FRUSTUM_RADIUS = 0.25        # ... and at most this fraction of the scene radius
REGION_MARGIN = 0.1          # a region fitted to points grows by this fraction of its size on every side


def display_transform(views: ViewSet, center: np.ndarray) -> np.ndarray:
    """4×4 rotation about `center` that turns the capture's up onto +z: the viewport's grid and orbit
    are then level with the scene. Identity for scenes that already are z-up."""
    rotation = rotation_between(capture_up(views.c2w), Z_UP)
    if np.abs(rotation - np.eye(3)).max() < 1e-9:
        rotation = np.eye(3)
    transform = np.eye(4)
    transform[:3, :3] = rotation
    transform[:3, 3] = center - rotation @ center
    return transform


def overview(cameras: np.ndarray, center: np.ndarray, fov_x_deg: float, aspect: float
             ) -> tuple[np.ndarray, float, float]:
    """(point to look at, distance, azimuth in degrees) that frame every camera and the scene centre
    (all in level, z-up coordinates) in a view `fov_x_deg` wide of width/height `aspect`. A capture
    from one side is seen over the photographers' shoulders, a little from the left."""
    everything = np.vstack([cameras, center[None]])
    target = (everything.min(0) + everything.max(0)) / 2
    radius = max(float(np.linalg.norm(everything - target, axis=-1).max()), 1e-6)
    half_fov = np.arctan(np.tan(np.deg2rad(fov_x_deg) / 2) * min(1.0, 1 / aspect))  # the narrower side
    offset = (cameras - center).mean(0)[:2]
    spread = np.linalg.norm(cameras - center, axis=-1).mean()
    azimuth = np.rad2deg(np.arctan2(offset[1], offset[0])) - 35 if np.linalg.norm(offset) > 0.3 * spread else -60.0
    return target, 1.05 * radius / np.sin(half_fov), float(azimuth)


def camera_spacing(positions: np.ndarray) -> float:
    """The median distance from a camera to its nearest neighbour (0 for fewer than 2 cameras)."""
    if len(positions) < 2:
        return 0.0
    distances, _ = cKDTree(positions).query(positions, k=2)
    return float(np.median(distances[:, 1]))


def frustum_size(positions: np.ndarray, radius: float) -> float:
    """Frustum depth that keeps neighbouring frustums apart (a dense capture's would otherwise merge
    into a wall), and no larger than a quarter of the scene radius."""
    spacing = camera_spacing(positions)
    largest = FRUSTUM_RADIUS * radius
    return float(min(largest, FRUSTUM_SPACING * spacing)) if spacing > 0 else largest


def points_to_draw(points: np.ndarray, colors: np.ndarray | None, limit: int = MAX_POINTS
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(positions float32 [N,3], RGBA float32 [N,4]) of at most `limit` finite points, a fixed random
    subset (the same every time the capture is shown)."""
    points = np.asarray(points, np.float32).reshape(-1, 3)
    finite = np.flatnonzero(np.isfinite(points).all(-1))
    keep = np.sort(np.random.default_rng(0).permutation(finite)[:limit])
    if colors is None:
        rgba = np.full((len(keep), 4), 0.8, np.float32)
    else:
        rgba = np.concatenate([np.asarray(colors)[keep] / 255.0, np.ones((len(keep), 1))], 1).astype(np.float32)
    return points[keep], rgba


@dataclass(frozen=True)
class Region:
    """An axis-aligned box in scene coordinates."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]

    def __post_init__(self) -> None:
        low, high = np.asarray(self.low, np.float64), np.asarray(self.high, np.float64)
        if low.shape != (3,) or high.shape != (3,) or not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise GQNError(f"a region needs three finite numbers for min and max, got {self.low} and {self.high}")
        if not (low < high).all():
            raise GQNError(f"a region's min {low.tolist()} must be below its max {high.tolist()} on every axis")
        object.__setattr__(self, "low", tuple(float(v) for v in low))
        object.__setattr__(self, "high", tuple(float(v) for v in high))

    @classmethod
    def from_meta(cls, meta: dict | None) -> "Region | None":
        if not meta:
            return None
        try:
            return cls(tuple(meta["min"]), tuple(meta["max"]))
        except (KeyError, TypeError, ValueError) as error:
            raise GQNError(f"not a region {{'min': [x,y,z], 'max': [x,y,z]}}: {meta!r} ({error})") from None

    def to_meta(self) -> dict[str, list[float]]:
        return {"min": list(self.low), "max": list(self.high)}

    def corners(self) -> np.ndarray:
        """[8,3]: corner k has min or max on axis a by bit a of k."""
        low, high = np.array(self.low), np.array(self.high)
        bits = (np.arange(8)[:, None] >> np.arange(3)) & 1
        return np.where(bits, high, low)

    def edges(self) -> np.ndarray:
        """[24,3]: the 12 edges as pairs of points, for a line plot in "lines" mode."""
        pairs = [(k, k | 1 << a) for k in range(8) for a in range(3) if not k >> a & 1]
        return self.corners()[np.array(pairs).ravel()]

    def contains(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points)
        return np.all((points >= self.low) & (points <= self.high), axis=-1)


def default_region(views: ViewSet, center: np.ndarray, radius: float) -> Region:
    """Where the scene is: the sparse points' 2-98 % extent with a margin, else a box about the centre
    a third of the camera distance across."""
    points = views.points
    if points is not None and len(points) >= 8:
        finite = points[np.isfinite(points).all(-1)]
        low, high = np.percentile(finite, [2, 98], axis=0)
        margin = REGION_MARGIN * np.maximum(high - low, 1e-3 * radius)
        return Region(tuple(low - margin), tuple(high + margin))
    half = np.full(3, 0.3 * radius)
    return Region(tuple(center - half), tuple(center + half))


def region_key(views: ViewSet) -> str | None:
    """What identifies a capture between sessions: its source path (with the scene of a dataset);
    None for a scene with no files behind it."""
    meta = views.meta
    if "dataset" in meta:
        return f"{Path(meta['dataset']).resolve()}#{meta.get('scene', 0)}"
    source = views.source
    if not source or not Path(source).exists():
        return None
    return str(Path(source).resolve())
