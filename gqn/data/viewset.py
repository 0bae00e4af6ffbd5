"""ViewSet: the one in-memory scene every reader returns and every consumer takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gqn import camera

# Field of view assumed where a source gives none (procedural scenes default to it too).
DEFAULT_FOV_DEG = 45.0
# Formats made by the project's procedural generators: their scenes sit in a procedural model's own space.
PROCEDURAL_FORMATS = ("procedural", "dataset", "gqn-datasets")


@dataclass
class ViewSet:
    """Images with their cameras, in the project's one convention (see gqn.camera).

    images      uint8 [V,H,W,3] RGB
    c2w         float64 [V,4,4] OpenCV camera-to-world, world z-up
    intrinsics  float64 [V,4] (fx, fy, cx, cy) in pixels of `images`
    names       one name per view (file name, or "view-003")
    skipped     [{"name", "reason"}] for every view that was named but could not be used
    points      optional sparse points [P,3] float32 (COLMAP), colours [P,3] uint8 in point_colors
    meta        what the reader knows besides: format, scene kind, distortion, normalisation ...
    """

    images: np.ndarray
    c2w: np.ndarray
    intrinsics: np.ndarray | None = None
    names: list[str] | None = None
    source: str | None = None
    skipped: list[dict[str, str]] = field(default_factory=list)
    points: np.ndarray | None = None
    point_colors: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images)
        if self.images.ndim != 4 or self.images.shape[-1] != 3:
            raise ValueError(f"ViewSet images must be [V,H,W,3], got {self.images.shape}")
        if self.images.dtype != np.uint8:
            raise ValueError(f"ViewSet images must be uint8, got {self.images.dtype}")
        self.c2w = np.asarray(self.c2w, dtype=np.float64)
        if self.c2w.shape != (len(self.images), 4, 4):
            raise ValueError(f"ViewSet c2w must be [{len(self.images)},4,4], got {self.c2w.shape}")
        height, width = self.images.shape[1:3]
        if self.intrinsics is None:
            self.intrinsics = np.tile(camera.intrinsics_from_fov(width, height, DEFAULT_FOV_DEG), (len(self.images), 1))
        self.intrinsics = np.asarray(self.intrinsics, dtype=np.float64).reshape(len(self.images), 4)
        if self.names is None:
            self.names = [f"view-{i:03d}" for i in range(len(self.images))]
        self.names = list(self.names)
        if len(self.names) != len(self.images):
            raise ValueError(f"ViewSet has {len(self.images)} images but {len(self.names)} names")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index) -> "ViewSet":
        """Slices, index lists and boolean masks give a smaller ViewSet; an int gives a one-view one."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        idx = np.arange(len(self))[index]
        return ViewSet(
            images=self.images[idx], c2w=self.c2w[idx], intrinsics=self.intrinsics[idx],
            names=[self.names[i] for i in idx], source=self.source, skipped=list(self.skipped),
            points=self.points, point_colors=self.point_colors, meta=dict(self.meta),
        )

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the images."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def positions(self) -> np.ndarray:
        return self.c2w[:, :3, 3]

    def normalised_intrinsics(self) -> np.ndarray:
        height, width = self.size
        return camera.normalise_intrinsics(self.intrinsics, width, height)

    def nearest(self, c2w: np.ndarray) -> tuple[int, float]:
        """Index of the view whose camera is nearest to `c2w` (position), and that distance."""
        dist = np.linalg.norm(self.positions - np.asarray(c2w)[:3, 3], axis=-1)
        i = int(np.argmin(dist))
        return i, float(dist[i])
