"""Shepard-Metzler objects: N unit cubes joined face to face as a random self-avoiding chain.

Each cube gets its own bright colour, the object a random orientation, centred (mean of the cube
centres) at the origin, on black. Cameras sit on a sphere around it, all looking at the origin.
"""

from __future__ import annotations

import numpy as np

from gqn import camera
from gqn.data.viewset import DEFAULT_FOV_DEG
from gqn.scenes import geometry
from gqn.scenes.scene import Scene

FOV_DEG = DEFAULT_FOV_DEG
MAX_ELEVATION_DEG = 75.0  # keep clear of the poles, where "no roll" is undefined


def bounding_radius(n_cubes: int) -> float:
    """No vertex is further from the centre than this, for any chain of n cubes.

    A cube centre is at most the mean path length (n-1)/2 from the mean of all centres, and a
    vertex sqrt(3)/2 from its cube's centre.
    """
    return (n_cubes - 1) / 2.0 + np.sqrt(3.0) / 2.0


def camera_distance(n_cubes: int) -> float:
    """Distance at which a chain 90% as long as the straight one fits the image width in any orientation.

    Most chains are far more compact than the straight one, so this fills the image better than
    fitting the worst case; even the worst case (bounding_radius) still leaves the corners black.
    """
    straight = np.sqrt((n_cubes / 2.0) ** 2 + 0.5)
    return 0.9 * straight / np.sin(np.deg2rad(FOV_DEG) / 2.0)


def random_chain(n_cubes: int, rng: np.random.Generator) -> np.ndarray:
    """Integer cell coordinates [n,3] of a self-avoiding chain: each cube touches the previous one's face."""
    while True:
        cells = [(0, 0, 0)]
        while len(cells) < n_cubes:
            x, y, z = cells[-1]
            free = [cell for cell in ((x + 1, y, z), (x - 1, y, z), (x, y + 1, z), (x, y - 1, z), (x, y, z + 1),
                                      (x, y, z - 1)) if cell not in cells]
            if not free:
                break  # boxed in (possible only from 12 cubes on): start again
            cells.append(free[rng.integers(len(free))])
        if len(cells) == n_cubes:
            return np.array(cells, dtype=np.float64)


def make(n_cubes: int, seed: int) -> Scene:
    rng = np.random.default_rng(seed)
    cells = random_chain(n_cubes, rng)
    colours = geometry.distinct_colours(rng, n_cubes)
    rotation = geometry.random_rotation(rng)

    # faces glued to a neighbour are inside the object: drop them (fewer triangles to draw)
    cube = geometry.unit_mesh("cube")
    beyond = cells[:, None, :] + np.rint(geometry.face_normals(cube))  # [n,12,3]: the cell each face looks into
    glued = (beyond[:, :, None, :] == cells[None, None, :, :]).all(-1).any(-1)
    exposed = ~glued.ravel()
    triangles = (cube[None] + cells[:, None, None, :]).reshape(-1, 3, 3)[exposed]
    albedo = np.repeat(colours, len(cube), axis=0)[exposed]
    triangles = geometry.transform(triangles - cells.mean(axis=0), rotation)
    return Scene(triangles, albedo, kind=f"shepard-metzler-{n_cubes}", seed=seed)


def sample_cameras(n_cubes: int, rng: np.random.Generator, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """n cameras at random azimuth and elevation (uniform over the sphere's band), looking at the origin."""
    azimuth = rng.uniform(0.0, 2.0 * np.pi, n)
    top = np.sin(np.deg2rad(MAX_ELEVATION_DEG))
    elevation = np.arcsin(rng.uniform(-top, top, n))
    eye = camera.spherical_to_position(camera_distance(n_cubes), azimuth, elevation)
    intrinsics = np.tile(camera.intrinsics_from_fov(size, size, FOV_DEG), (n, 1))
    return camera.look_at(eye), intrinsics
