"""Low-polygon triangle meshes for the procedural scenes, as triangle soups [T,3,3].

Every shape fits the cube [-0.5, 0.5]^3 and is wound counter-clockwise seen from outside, so
face normals point out (the renderer culls back faces and shades by these normals). Triangle
counts stay small on purpose: rendering cost grows with them (a sphere has 80 triangles).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from trimesh import creation

SHAPES = ("sphere", "cube", "cylinder", "cone", "icosahedron")


@cache
def _unit_mesh(shape: str) -> np.ndarray:
    if shape == "sphere":
        mesh = creation.icosphere(subdivisions=1, radius=0.5)
    elif shape == "cube":
        mesh = creation.box(extents=(1.0, 1.0, 1.0))
    elif shape == "cylinder":
        mesh = creation.cylinder(radius=0.5, height=1.0, sections=12)
    elif shape == "cone":
        mesh = creation.cone(radius=0.5, height=1.0, sections=12)
        mesh.apply_translation((0.0, 0.0, -0.5))
    elif shape == "icosahedron":
        mesh = creation.icosahedron()
        mesh.apply_scale(0.5 / np.linalg.norm(mesh.vertices, axis=1).max())
    else:
        raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")
    triangles = np.asarray(mesh.triangles, dtype=np.float64)
    triangles.flags.writeable = False
    return triangles


def unit_mesh(shape: str) -> np.ndarray:
    """Triangles [T,3,3] of `shape` centred at the origin inside [-0.5, 0.5]^3 (a read-only cached array)."""
    return _unit_mesh(shape)


def face_normals(triangles: np.ndarray) -> np.ndarray:
    """Unit normals [T,3] from the winding (counter-clockwise seen from the side they point to)."""
    triangles = np.asarray(triangles, dtype=np.float64)
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def transform(triangles: np.ndarray, rotation: np.ndarray | None = None, scale=1.0,
              translation=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Scale (a number or per-axis), then rotate (3×3), then translate."""
    out = np.asarray(triangles, dtype=np.float64) * np.asarray(scale, dtype=np.float64)
    if rotation is not None:
        out = out @ np.asarray(rotation, dtype=np.float64).T
    return out + np.asarray(translation, dtype=np.float64)


def quad(a, b, c, d) -> np.ndarray:
    """Two triangles [2,3,3] for the planar quad a-b-c-d (counter-clockwise seen from its front)."""
    a, b, c, d = (np.asarray(p, dtype=np.float64) for p in (a, b, c, d))
    return np.stack([np.stack([a, b, c]), np.stack([a, c, d])])


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3×3 rotation (from a normalised Gaussian quaternion)."""
    w, x, y, z = rng.normal(size=4)
    norm = np.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / norm, x / norm, y / norm, z / norm
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def distinct_colours(rng: np.random.Generator, n: int, saturation=(0.55, 1.0), value=(0.75, 1.0)) -> np.ndarray:
    """n bright colours [n,3] in [0,1] whose hues are at least ~0.6/n of a turn apart."""
    hues = (rng.uniform() + (rng.permutation(n) + rng.uniform(-0.2, 0.2, n)) / n) % 1.0
    return hsv_to_rgb(hues, rng.uniform(*saturation, n), rng.uniform(*value, n))


def hsv_to_rgb(h, s, v) -> np.ndarray:
    """Vectorised HSV -> RGB, all in [0,1]; returns [...,3] float32."""
    h, s, v = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (h, s, v)))
    k = (np.array([5.0, 3.0, 1.0]) + h[..., None] * 6.0) % 6.0
    rgb = v[..., None] - v[..., None] * s[..., None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return rgb.astype(np.float32)
