"""The procedural scene kinds by name (as in `gqn scenes --kind`): make, photograph, re-make from meta.

A scene is fully determined by (kind, seed): geometry from default_rng(seed), cameras from a
separate stream, so the explorer can re-render the exact ground truth at any pose later.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gqn.data.viewset import ViewSet
from gqn.scenes import rooms, shepard_metzler
from gqn.scenes.scene import Scene

KINDS = ("shepard-metzler-5", "shepard-metzler-7", "rooms-ring", "rooms-free")
DEFAULT_VIEWS = {"shepard-metzler-5": 15, "shepard-metzler-7": 15, "rooms-ring": 10, "rooms-free": 10}


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown scene kind {kind!r}; expected one of {', '.join(KINDS)}")


def _cubes(kind: str) -> int:
    return int(kind.rsplit("-", 1)[1])


def make_scene(kind: str, seed: int) -> Scene:
    _check(kind)
    if kind.startswith("shepard-metzler"):
        return shepard_metzler.make(_cubes(kind), seed)
    return rooms.make(kind, seed)


def sample_cameras(kind: str, rng: np.random.Generator, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(c2w [n,4,4], intrinsics [n,4]) for n random views of a `kind` scene at size×size pixels."""
    _check(kind)
    if kind.startswith("shepard-metzler"):
        return shepard_metzler.sample_cameras(_cubes(kind), rng, n, size)
    return rooms.sample_cameras(kind, rng, n, size)


def camera_rng(seed: int) -> np.random.Generator:
    """The cameras' own random stream, independent of the geometry's."""
    return np.random.default_rng([seed, 1])


def scene_and_cameras(kind: str, seed: int, views: int, size: int) -> tuple[Scene, np.ndarray, np.ndarray]:
    """The scene for (kind, seed) and its `views` cameras: what render_views and datasets draw."""
    return (make_scene(kind, seed), *sample_cameras(kind, camera_rng(seed), views, size))


def procedural_meta(kind: str, seed: int, size: int) -> dict[str, Any]:
    return {"format": "procedural", "kind": kind, "seed": int(seed), "size": int(size)}


def render_views(kind: str, seed: int, views: int, size: int) -> ViewSet:
    """One procedural scene seen from `views` random cameras; meta lets scene_from_meta re-make it."""
    scene, c2w, intrinsics = scene_and_cameras(kind, seed, views, size)
    return ViewSet(scene.render(c2w, intrinsics, size), c2w, intrinsics, source=f"{kind}:{seed}",
                   meta=procedural_meta(kind, seed, size))


def scene_from_meta(meta: dict[str, Any]) -> Scene | None:
    """The exact scene behind a procedural ViewSet (from its meta), or None for any other source."""
    if meta.get("format") != "procedural" or meta.get("kind") not in KINDS or meta.get("seed") is None:
        return None
    return make_scene(meta["kind"], int(meta["seed"]))


def scene_center(kind: str) -> np.ndarray:
    """The point the cameras of `kind` look at: where an orbiting camera should aim."""
    _check(kind)
    return rooms.LOOK_AT.copy() if kind.startswith("rooms") else np.zeros(3)


def orbit_radius(kind: str) -> float:
    """Distance from scene_center at which the dataset's cameras stand (rooms-free: a ring inside the room)."""
    _check(kind)
    return rooms.RING_RADIUS if kind.startswith("rooms") else float(shepard_metzler.camera_distance(_cubes(kind)))


def depth_range(kind: str) -> tuple[float, float]:
    """(near, far): the depths at which a `kind` camera can see anything. Epipolar attention samples
    its rays there, so the samples fall on the object instead of the empty space around it."""
    _check(kind)
    if kind.startswith("rooms"):
        far = float(2 * rooms.HALF * np.sqrt(2))
        if kind != "rooms-ring":
            return 0.25, far
        # nothing stands nearer a ring camera than the object disc's edge, seen at most at an image corner
        half_diagonal = np.arctan(np.sqrt(2) * np.tan(np.radians(rooms.FOV_DEG) / 2))
        return float((rooms.RING_RADIUS - rooms.OBJECT_AREA) * np.cos(half_diagonal)), far
    distance, radius = shepard_metzler.camera_distance(_cubes(kind)), shepard_metzler.bounding_radius(_cubes(kind))
    return float(max(0.1, distance - radius)), float(distance + radius)
