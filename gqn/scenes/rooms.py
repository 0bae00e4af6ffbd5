"""Rooms: a checkered floor, four differently coloured walls, the sky above, 1-5 simple objects.

The room spans [-HALF, HALF]^2 on the floor (z = 0), walls HEIGHT high, open to a sky that is the
background colour. Objects stand on the floor inside a disc of radius OBJECT_AREA, so the ring
cameras (radius RING_RADIUS) never stand inside one; free cameras stay higher than any object.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from gqn import camera
from gqn.scenes import geometry
from gqn.scenes.scene import Scene

HALF = 3.0
HEIGHT = 2.5
TILES = 8  # checker tiles per side
FOV_DEG = 60.0  # wider than the default: a room is seen from inside
OBJECT_SIZE = (0.5, 0.9)  # width and height of an object's bounding box
OBJECT_AREA = 1.8
RING_RADIUS = 2.6
RING_HEIGHT = 1.0
LOOK_AT = np.array([0.0, 0.0, 0.3])  # ring cameras look here: the room centre, near the floor
FREE_HEIGHT = (1.0, 1.6)  # above the tallest object (OBJECT_SIZE[1])
FREE_MARGIN = 0.4  # free cameras keep this far from the walls
FREE_PITCH_DEG = (-40.0, 5.0)
SKY = np.array([0.62, 0.78, 0.94], np.float32)


@cache
def _room_geometry() -> tuple[np.ndarray, np.ndarray]:
    """Floor tiles then the four walls (fronts facing into the room), and the floor tiles' checker parity."""
    edges = np.linspace(-HALF, HALF, TILES + 1)
    tiles = [geometry.quad((x0, y0, 0), (x1, y0, 0), (x1, y1, 0), (x0, y1, 0))
             for x0, x1 in zip(edges, edges[1:]) for y0, y1 in zip(edges, edges[1:])]
    corners = [(-HALF, -HALF), (HALF, -HALF), (HALF, HALF), (-HALF, HALF)]
    walls = [geometry.quad((x0, y0, 0), (x0, y0, HEIGHT), (x1, y1, HEIGHT), (x1, y1, 0))
             for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1])]
    parity = np.repeat(np.add.outer(np.arange(TILES), np.arange(TILES)).ravel() % 2, 2)
    triangles = np.concatenate(tiles + walls)
    triangles.flags.writeable = parity.flags.writeable = False
    return triangles, parity


def _room(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Checkered floor in a light and a dark shade of one random hue; four distinct wall colours."""
    triangles, parity = _room_geometry()
    floor = geometry.hsv_to_rgb(rng.uniform(), rng.uniform(0.0, 0.2, 2), np.array([0.85, 0.45]))[parity]
    walls = geometry.distinct_colours(rng, 4, saturation=(0.35, 0.75), value=(0.6, 0.95))
    return triangles, np.concatenate([floor, np.repeat(walls, 2, axis=0)])


def _objects(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """1-5 objects of random shape, colour, size and yaw, not overlapping, standing on the floor."""
    count = rng.integers(1, 6)
    shapes = rng.choice(len(geometry.SHAPES), count)
    colours = geometry.distinct_colours(rng, count)
    placed: list[tuple[np.ndarray, float]] = []
    triangles, albedo = [], []
    for shape, colour in zip(shapes, colours):
        width, height = rng.uniform(*OBJECT_SIZE), rng.uniform(*OBJECT_SIZE)
        radius = width * np.sqrt(0.5)  # of the bounding box's footprint
        for _ in range(100):
            radial = rng.uniform(0.0, OBJECT_AREA - radius)
            angle = rng.uniform(0.0, 2 * np.pi)
            centre = radial * np.array([np.cos(angle), np.sin(angle)])
            if all(np.linalg.norm(centre - c) > radius + r + 0.1 for c, r in placed):
                break
        else:
            continue  # no room left for this one
        placed.append((centre, radius))
        yaw = geometry.rotation_z(rng.uniform(0.0, 2.0 * np.pi))
        mesh = geometry.transform(geometry.unit_mesh(geometry.SHAPES[shape]), yaw, scale=(width, width, height),
                                  translation=(*centre, height / 2.0))
        triangles.append(mesh)
        albedo.append(np.repeat(colour[None], len(mesh), axis=0))
    return np.concatenate(triangles), np.concatenate(albedo)


def make(kind: str, seed: int) -> Scene:
    rng = np.random.default_rng(seed)
    parts = [_room(rng), _objects(rng)]
    triangles = np.concatenate([p[0] for p in parts])
    colours = np.concatenate([p[1] for p in parts])
    return Scene(triangles, colours, kind=kind, seed=seed, background=SKY)


def sample_cameras(kind: str, rng: np.random.Generator, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """rooms-ring: random azimuth on a ring at fixed height, looking at the room centre.
    rooms-free: random position, yaw and pitch inside the room."""
    intrinsics = np.tile(camera.intrinsics_from_fov(size, size, FOV_DEG), (n, 1))
    if kind == "rooms-ring":
        azimuth = rng.uniform(0.0, 2.0 * np.pi, n)
        eye = np.stack([RING_RADIUS * np.cos(azimuth), RING_RADIUS * np.sin(azimuth), np.full(n, RING_HEIGHT)], -1)
        return camera.look_at(eye, LOOK_AT), intrinsics
    xy = rng.uniform(-HALF + FREE_MARGIN, HALF - FREE_MARGIN, (n, 2))
    eye = np.concatenate([xy, rng.uniform(*FREE_HEIGHT, (n, 1))], -1)
    yaw = rng.uniform(0.0, 2.0 * np.pi, n)
    pitch = np.deg2rad(rng.uniform(*FREE_PITCH_DEG, n))
    return camera.pose_from_forward(eye, camera.yaw_pitch_to_forward(yaw, pitch)), intrinsics
