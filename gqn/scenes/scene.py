"""Scene: coloured triangles plus light and background, renderable from any OpenCV pinhole camera."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from gqn.scenes.render import rasterize, shade

# Direction towards the one directional light (world z-up): high, slightly from +x/+y.
LIGHT_DIR = (0.45, 0.3, 1.0)
AMBIENT = 0.5


@dataclass
class Scene:
    """triangles float32 [T,3,3] (counter-clockwise seen from outside), colours float32 [T,3] albedo in
    [0,1], background float32 [3] in [0,1]. `kind` and `seed` say how it was made (make_scene(kind, seed)
    makes it again). Treat it as immutable: the shaded colours are computed once, on the first render."""

    triangles: np.ndarray
    colours: np.ndarray
    kind: str = "custom"
    seed: int | None = None
    background: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    light_dir: tuple[float, float, float] = LIGHT_DIR
    ambient: float = AMBIENT

    def __post_init__(self) -> None:
        self.triangles = np.asarray(self.triangles, dtype=np.float32).reshape(-1, 3, 3)
        self.colours = np.asarray(self.colours, dtype=np.float32).reshape(-1, 3)
        self.background = np.asarray(self.background, dtype=np.float32).reshape(3)
        if len(self.colours) != len(self.triangles):
            raise ValueError(f"Scene has {len(self.triangles)} triangles but {len(self.colours)} colours")

    @cached_property
    def shaded(self) -> np.ndarray:
        """uint8 [T,3]: the colour each triangle shows (shading does not depend on the view)."""
        return shade(self.triangles, self.colours, self.light_dir, self.ambient)

    @property
    def background_u8(self) -> np.ndarray:
        return np.round(np.clip(self.background, 0.0, 1.0) * 255.0).astype(np.uint8)

    def render(self, c2w: np.ndarray, intrinsics: np.ndarray, size: int) -> np.ndarray:
        """uint8 [V,size,size,3] seen from OpenCV c2w [V,4,4] (or one [4,4]) with intrinsics [V,4] (or one [4])."""
        c2w = np.asarray(c2w, dtype=np.float64).reshape(-1, 4, 4)
        return render_scenes([self], c2w[None], intrinsics, size)[0]


def render_scenes(scenes: list[Scene], c2w: np.ndarray, intrinsics: np.ndarray, size: int) -> np.ndarray:
    """Render many scenes in one parallel call: c2w [S,V,4,4], intrinsics [S,V,4] (or broadcastable)
    -> uint8 [S,V,size,size,3]. Batching keeps every core busy when each scene has few views."""
    c2w = np.asarray(c2w, dtype=np.float64)
    n_scenes, n_views = c2w.shape[:2]
    if n_scenes != len(scenes) or c2w.shape[2:] != (4, 4):
        raise ValueError(f"expected c2w [{len(scenes)},V,4,4], got {c2w.shape}")
    intrinsics = np.broadcast_to(np.asarray(intrinsics, dtype=np.float64), (n_scenes, n_views, 4))
    if not 1 <= size <= 4096:
        raise ValueError(f"image size must be in 1..4096, got {size}")
    counts = np.array([len(s.triangles) for s in scenes], dtype=np.int64)
    tri_end = np.cumsum(counts)
    images = rasterize(
        triangles=np.concatenate([s.triangles for s in scenes]),
        colours=np.concatenate([s.shaded for s in scenes]),
        tri_start=tri_end - counts,
        tri_end=tri_end,
        background=np.stack([s.background_u8 for s in scenes]),
        scene_of_view=np.repeat(np.arange(n_scenes), n_views),
        c2w=c2w.reshape(-1, 4, 4),
        intrinsics=intrinsics.reshape(-1, 4),
        size=int(size),
    )
    return images.reshape(n_scenes, n_views, size, size, 3)
