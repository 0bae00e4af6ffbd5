"""The photo world: procedural captures that look like someone photographed real things with a phone.

What a model that must generalise to real captures needs to have seen: textured objects (boxes,
balls, cans, plates) standing on tables or floors, inside rooms with posters and furniture or
outdoors before far hills, under indoor lamps, window light or the sun; cameras of any aspect
(portrait phones, landscape, 40-90° across the long side, principal point a little off-centre)
laid out like real captures — inward orbits at several heights and distances, forward-facing
handheld sweeps, unevenly spaced — 20 to 100 photos each, with auto-exposure, white balance,
vignetting and sensor noise; and what structure from motion would add: sparse surface points
seen by two or more photos, a little noisy. Every pixel's depth comes with it.

A capture is fully determined by its seed: the world from one random stream, the cameras from
another, so a world can be photographed again from any camera (`world_from_seed(seed).render`).
Units are metres; poses are OpenCV camera-to-world in a z-up world (gqn.camera).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gqn import camera
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.scenes import photo_render as pr
from gqn.scenes.geometry import hsv_to_rgb
from gqn.scenes.photo_textures import SIZE, TextureBank, texture_bank

KIND = "photo-world"
SETTINGS = ("table", "floor", "outdoor")
LAYOUTS = ("orbit", "forward")
ASPECTS = {"portrait": 3 / 4, "portrait-tall": 9 / 16, "square": 1.0, "landscape": 4 / 3, "wide": 16 / 9}  # width/height
ASPECT_ODDS = {"portrait": 0.35, "portrait-tall": 0.1, "square": 0.15, "landscape": 0.3, "wide": 0.1}
FOV_DEG = (40.0, 90.0)         # across the long side
VIEWS = (20, 100)
DATASET_POINTS = 1000          # sparse points kept per capture in a dataset
PRINCIPAL_JITTER = 0.04        # at most this fraction of the image side off-centre
OBJECT_FAMILIES = {"photo": 0.25, "paint": 0.2, "wood": 0.12, "marble": 0.1, "fabric": 0.1, "stone": 0.08,
                   "tiles": 0.05, "grey-photo": 0.05, "material-photo": 0.05}
GREY = ("grey-photo", "material-photo")  # tinted by their material
GLOSSY = ("photo", "paint", "marble", "tiles")
MIN_FRAMED = (0.2, 0.5)        # metres around the objects a photographer frames at least: on a table, elsewhere


@dataclass
class PhotoWorld:
    """Primitives, materials and light of one world (arrays in photo_render's layouts) and what the
    cameras need to know: where the objects are (target, radius) and where a photographer can stand."""

    prims: np.ndarray        # float64 [P, PRIM_FIELDS]
    faces: np.ndarray        # int64 [P, FACE_SLOTS] material of each face
    materials: np.ndarray    # float64 [M, MAT_FIELDS]
    shadows: np.ndarray      # float64 [S, SHADOW_FIELDS]
    light: np.ndarray        # float64 [LIGHT_FIELDS]
    white_balance: np.ndarray  # [3] the camera's colour gains
    vignette: float
    noise: float
    target: np.ndarray       # [3] middle of the objects
    radius: float            # the objects lie within this distance of target
    bounds: np.ndarray       # [2,3] box the cameras stay inside
    setting: str
    seed: int

    def render(self, c2w: np.ndarray, intrinsics: np.ndarray, height: int, width: int,
               gain: np.ndarray | float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 [V,H,W,3], float32 depth [V,H,W]) from OpenCV c2w [V,4,4] with pixel intrinsics [V,4]
        (or one [4]); `gain` is the exposure, one per view or for all (white balance is the world's)."""
        c2w = np.asarray(c2w, np.float64).reshape(-1, 4, 4)
        intrinsics = np.broadcast_to(np.asarray(intrinsics, np.float64), (len(c2w), 4))
        gain = np.broadcast_to(np.asarray(gain, np.float64).reshape(-1, 1), (len(c2w), 1)) * self.white_balance
        bank = texture_bank()
        return pr.render(self.prims, self.faces, self.materials, self.shadows, self.light, bank.texels, bank.offsets,
                         c2w, intrinsics, gain, self.vignette, self.noise, self.seed, height, width)


@dataclass
class Capture:
    """A rendered capture: the views (with sparse points, near/far and seed in meta), each view's depth
    (camera z, float32 [V,H,W]), which views see each sparse point (bool [P,V], COLMAP's tracks), the world."""

    views: ViewSet
    depth: np.ndarray
    visibility: np.ndarray
    world: PhotoWorld


# --- building a world ------------------------------------------------------------------------------------

class _Builder:
    """Collects primitives, materials and blob shadows while a world is made."""

    def __init__(self, rng: np.random.Generator, bank: TextureBank) -> None:
        self.rng, self.bank = rng, bank
        self.prims: list[np.ndarray] = []
        self.faces: list[list[int]] = []
        self.materials: list[list[float]] = []
        self.shadows: list[list[float]] = []

    def material(self, family: str, span: float, tint=None, specular: float = 0.0,
                 fit: tuple[float, float] | None = None) -> int:
        """A texture of `family` repeating every `span` metres (or stretched once over a fit=(u, v) metre face)."""
        rng = self.rng
        tex = int(rng.choice(self.bank.families[family]))
        if tint is None:
            tint = rng.uniform(0.85, 1.15, 3) if family not in ("photo", "landscape", "clouds") else np.ones(3)
        if fit is None:
            scale, offset = (SIZE / span,) * 2, rng.uniform(0, 2 * SIZE, 2)
        else:
            scale, offset = (SIZE / fit[0], SIZE / fit[1]), (0.0, 0.0)
        self.materials.append([tex, *scale, *offset, *np.asarray(tint, float), specular])
        return len(self.materials) - 1

    def add(self, kind: int, centre, half, materials, yaw: float = 0.0) -> None:
        c, s = np.cos(yaw), np.sin(yaw)
        rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        faces = [materials] * pr.FACE_SLOTS if np.isscalar(materials) else list(materials) + [0] * (pr.FACE_SLOTS - len(materials))
        self.prims.append(np.concatenate([[kind], np.asarray(centre, float), rotation.ravel(), np.asarray(half, float)]))
        self.faces.append(faces)

    def shadow(self, xy, z: float, radius: float, height: float, light: np.ndarray) -> None:
        """A soft dark blob on the surface at height z, pushed away from the light by the object's height."""
        towards = light[1:4] - (0.0 if light[0] == 0 else np.array([*xy, z]))
        towards = towards / np.linalg.norm(towards)
        offset = -towards[:2] / max(towards[2], 0.35) * 0.4 * height
        self.shadows.append([*(np.asarray(xy) + offset), z, radius * 1.35, self.rng.uniform(0.35, 0.65)])


def _object_material(b: _Builder, size: float) -> int:
    rng = b.rng
    family = str(rng.choice(list(OBJECT_FAMILIES), p=list(OBJECT_FAMILIES.values())))
    specular = rng.uniform(0.0, 0.5) if family in GLOSSY else rng.uniform(0.0, 0.08)
    tint = hsv_tint(rng) if family in GREY else None
    return b.material(family, span=size * rng.uniform(1.0, 2.5), tint=tint, specular=specular)


def hsv_tint(rng: np.random.Generator) -> np.ndarray:
    """A colour to dye a grey photo with (bricks, gravel, coins)."""
    return hsv_to_rgb(rng.uniform(), rng.uniform(0.1, 0.6), rng.uniform(0.8, 1.2))


def _objects(b: _Builder, light: np.ndarray, centre: np.ndarray, area: np.ndarray, base_z: float, unit: float
             ) -> tuple[np.ndarray, float]:
    """1-7 objects standing on the surface at base_z within the rectangle centre ± area; some stacked.
    Returns the group's middle and radius."""
    rng = b.rng
    placed: list[tuple[np.ndarray, float, float]] = []  # (xy, footprint radius, top height)
    for _ in range(rng.integers(1, 8)):
        shape = rng.choice(["box", "cylinder", "sphere", "disc"], p=[0.4, 0.27, 0.18, 0.15])
        if shape == "box":
            half = unit * rng.uniform([0.3, 0.3, 0.3], [1.0, 1.0, 1.3])
            footprint = float(np.hypot(half[0], half[1]))
        elif shape == "sphere":
            half = np.full(3, unit * rng.uniform(0.25, 0.6))
            footprint = half[0]
        else:
            radius = unit * rng.uniform(0.2, 0.6) if shape == "cylinder" else unit * rng.uniform(0.4, 1.0)
            half = np.array([radius, radius, unit * (rng.uniform(0.3, 1.3) if shape == "cylinder" else rng.uniform(0.02, 0.06))])
            footprint = radius
        for _ in range(50):
            xy = centre + rng.uniform(-1, 1, 2) * np.maximum(area - footprint, 0.0)
            if all(np.linalg.norm(xy - other) > footprint + r + 0.02 * unit for other, r, _ in placed):
                break
        else:
            continue
        height = 2 * half[2]
        kind = {"box": pr.BOX, "sphere": pr.SPHERE}.get(str(shape), pr.CYLINDER)
        b.add(kind, [*xy, base_z + half[2]], half, _object_material(b, 2 * footprint), yaw=rng.uniform(0, 2 * np.pi))
        b.shadow(xy, base_z, footprint, height, light)
        top = base_z + height
        if shape == "box" and rng.uniform() < 0.25:  # something on top of the box
            small = min(half[0], half[1]) * rng.uniform(0.4, 0.9)
            on_top = np.array([small, small, unit * rng.uniform(0.2, 0.6)])
            b.add(pr.BOX, [*xy, top + on_top[2]], on_top, _object_material(b, 2 * small), yaw=rng.uniform(0, 2 * np.pi))
            b.shadow(xy, top, small, 2 * on_top[2], light)
            top += 2 * on_top[2]
        placed.append((xy, footprint, top))
    if not placed:
        return np.array([*centre, base_z + unit]), unit
    xys = np.array([p[0] for p in placed])
    middle = np.array([*(xys.min(0) + xys.max(0)) / 2, base_z + 0.5 * max(p[2] - base_z for p in placed)])
    radius = max(float(np.linalg.norm(np.array([*p[0], base_z]) - middle)) + p[1] for p in placed)
    radius = max(radius, max(p[2] for p in placed) - middle[2], unit)
    return middle, radius


def _indoor_light(rng: np.random.Generator, room_half: np.ndarray) -> np.ndarray:
    warm = np.array([1.0, rng.uniform(0.75, 0.95), rng.uniform(0.55, 0.85)])
    bounce = rng.uniform(0.25, 0.5) * rng.uniform(0.8, 1.2, 3)
    if rng.uniform() < 0.5:  # a lamp under the ceiling
        position = [*rng.uniform(-0.6, 0.6, 2) * room_half[:2], 2 * room_half[2] - 0.3]
        return np.array([1.0, *position, *(warm * rng.uniform(2.0, 4.0)), *bounce, *(bounce * 0.6), rng.uniform(2.0, 4.0)])
    direction = camera.yaw_pitch_to_forward(rng.uniform(0, 2 * np.pi), np.deg2rad(rng.uniform(20, 55)))
    window = np.array([rng.uniform(0.85, 1.0), rng.uniform(0.9, 1.0), 1.0]) * rng.uniform(1.2, 2.5)
    return np.array([0.0, *direction, *window, *bounce, *(bounce * 0.6), 1.0])


def _outdoor_light(rng: np.random.Generator) -> np.ndarray:
    sun = camera.yaw_pitch_to_forward(rng.uniform(0, 2 * np.pi), np.deg2rad(rng.uniform(15, 75)))
    overcast = rng.uniform() < 0.3
    sun_colour = np.array([1.0, 0.95, rng.uniform(0.75, 0.9)]) * (rng.uniform(0.3, 0.8) if overcast else rng.uniform(2.5, 4.0))
    sky = np.array([0.55, 0.65, 0.85]) * (rng.uniform(0.8, 1.2) if overcast else rng.uniform(0.35, 0.6))
    ground = np.array([0.35, 0.32, 0.25]) * rng.uniform(0.2, 0.4)
    return np.array([0.0, *sun, *sun_colour, *sky, *ground, 1.0])


def _room(b: _Builder, half: np.ndarray) -> None:
    """A box room with its floor at z = 0: floor, four walls, ceiling; posters and furniture on the walls."""
    rng = b.rng
    floor_family = str(rng.choice(["planks", "tiles", "stone", "fabric", "wood", "material-photo"]))
    floor = b.material(floor_family, span=rng.uniform(0.8, 2.5), tint=hsv_tint(rng) if floor_family in GREY else None)
    wall_family = str(rng.choice(["paint", "paint", "stone", "fabric", "material-photo", "tiles"]))
    walls = [b.material(wall_family, span=rng.uniform(1.0, 3.0), tint=hsv_tint(rng) if wall_family in GREY else None)
             for _ in range(2)]
    ceiling = b.material("paint", span=2.0, tint=np.full(3, rng.uniform(0.9, 1.1)))
    wall_of = [walls[int(rng.integers(2))] for _ in range(4)]
    b.add(pr.ROOM_BOX, [0.0, 0.0, half[2]], half, [*wall_of, floor, ceiling])
    for _ in range(rng.integers(0, 5)):  # posters: photos hung on the walls
        wall = int(rng.integers(4))
        axis, sign = wall // 2, 1.0 if wall % 2 else -1.0
        size = rng.uniform(0.3, 1.0, 2)
        centre = np.zeros(3)
        centre[axis] = sign * (half[axis] - 0.011)
        centre[1 - axis] = rng.uniform(-1, 1) * max(half[1 - axis] - size[0], 0.0)
        centre[2] = rng.uniform(1.0, max(1.1, 2 * half[2] - size[1] - 0.2))
        extent = np.array([size[0], size[0], size[1]]) / 2
        extent[axis] = 0.01
        fit = b.material("photo", span=1.0, fit=(2 * extent[1 - axis], 2 * extent[2]))
        b.add(pr.BOX, centre, extent, fit)
    for _ in range(rng.integers(0, 4)):  # furniture against a wall: cabinets, shelves, sofas
        wall = int(rng.integers(4))
        axis, sign = wall // 2, 1.0 if wall % 2 else -1.0
        extent = np.array([0.0, 0.0, rng.uniform(0.2, 1.0)])
        extent[axis], extent[1 - axis] = rng.uniform(0.15, 0.35), rng.uniform(0.25, 0.8)
        centre = np.zeros(3)
        centre[axis] = sign * (half[axis] - extent[axis] - 0.01)
        centre[1 - axis] = rng.uniform(-1, 1) * max(half[1 - axis] - extent[1 - axis], 0.0)
        centre[2] = extent[2]
        b.add(pr.BOX, centre, extent, b.material(str(rng.choice(["wood", "paint", "fabric", "planks"])), span=1.0,
                                                 specular=rng.uniform(0, 0.2)))


def _outdoors(b: _Builder, light: np.ndarray) -> None:
    """A round horizon of hills under a cloudy dome, a textured ground, a few walls or hedges nearer by."""
    rng = b.rng
    radius, half_height = rng.uniform(15.0, 40.0), rng.uniform(6.0, 12.0)
    hills = b.material("landscape", span=1.0, fit=(2 * np.pi * radius / rng.integers(2, 5), 2 * half_height))
    sky = b.material("clouds", span=rng.uniform(8.0, 20.0))
    ground = b.material(str(rng.choice(["material-photo", "stone", "tiles", "planks"])), span=rng.uniform(1.0, 3.0),
                        tint=hsv_tint(rng) * 0.8)
    b.add(pr.ROOM_CYLINDER, [0.0, 0.0, half_height], [radius, radius, half_height], [hills, sky, ground])
    for _ in range(rng.integers(0, 5)):
        distance, angle = rng.uniform(3.0, 12.0), rng.uniform(0, 2 * np.pi)
        extent = np.array([rng.uniform(0.1, 0.4), rng.uniform(0.5, 3.0), rng.uniform(0.4, 2.0)])
        centre = [distance * np.cos(angle), distance * np.sin(angle), extent[2]]
        family = str(rng.choice(["stone", "tiles", "paint", "material-photo"]))
        b.add(pr.BOX, centre, extent, b.material(family, span=1.5, tint=hsv_tint(rng) if family in GREY else None),
              yaw=angle + rng.normal(0, 0.3))


def _table(b: _Builder, light: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, float]:
    """A table top on four legs; returns its half size (x, y) and the height of its top."""
    rng = b.rng
    half = np.array([rng.uniform(0.35, 0.8), rng.uniform(0.3, 0.5), rng.uniform(0.012, 0.025)])
    height = rng.uniform(0.45, 0.8)
    top = b.material(str(rng.choice(["wood", "planks", "marble", "fabric", "paint", "tiles"])),
                     span=rng.uniform(0.4, 1.2), specular=rng.uniform(0.0, 0.3))
    b.add(pr.BOX, [*centre, height - half[2]], half, top)
    leg = rng.uniform(0.015, 0.03)
    for sx in (-1, 1):
        for sy in (-1, 1):
            xy = centre + [sx * (half[0] - 2 * leg), sy * (half[1] - 2 * leg)]
            b.add(pr.BOX, [*xy, (height - 2 * half[2]) / 2], [leg, leg, (height - 2 * half[2]) / 2], top)
    b.shadow(centre, 0.0, float(np.hypot(*half[:2])) * 0.8, height, light)
    return half[:2], height


def make_world(seed: int, setting: str | None = None) -> PhotoWorld:
    """The world of `seed`: a setting (table, floor or outdoor; random when None), its objects and light."""
    rng = np.random.default_rng([seed, 0])
    setting = setting or str(rng.choice(SETTINGS, p=[0.45, 0.3, 0.25]))
    if setting not in SETTINGS:
        raise ValueError(f"unknown photo-world setting {setting!r}; expected one of {', '.join(SETTINGS)}")
    b = _Builder(rng, texture_bank())
    if setting == "outdoor":
        light = _outdoor_light(rng)
        _outdoors(b, light)
        bounds = np.array([[-8.0, -8.0, 0.15], [8.0, 8.0, 4.0]])
    else:
        half = np.array([rng.uniform(1.8, 4.5), rng.uniform(1.8, 4.5), rng.uniform(1.2, 1.6)])
        light = _indoor_light(rng, half)
        _room(b, half)
        bounds = np.array([-half + [0.25, 0.25, 0.0], half + [-0.25, -0.25, half[2]]])
        bounds[:, 2] = [0.15, 2 * half[2] - 0.2]
    centre = rng.uniform(-0.4, 0.4, 2)
    if setting == "table" or (setting == "outdoor" and rng.uniform() < 0.3):
        table_half, table_height = _table(b, light, centre)
        unit = rng.uniform(0.05, 0.13)
        area = np.minimum(table_half - 0.03, unit * rng.uniform(1.5, 3.5))
        target, radius = _objects(b, light, centre, area, table_height, unit)
    else:
        unit = rng.uniform(0.12, 0.4)
        target, radius = _objects(b, light, centre, np.full(2, unit * rng.uniform(1.5, 3.5)), 0.0, unit)
    white_balance = np.exp(rng.normal(0, 0.06, 3))
    return PhotoWorld(np.array(b.prims), np.array(b.faces, np.int64), np.array(b.materials),
                      np.array(b.shadows).reshape(-1, pr.SHADOW_FIELDS), light, white_balance / white_balance.mean(),
                      vignette=rng.uniform(0.0, 0.35), noise=rng.uniform(0.5, 3.0), target=target, radius=float(radius),
                      bounds=bounds, setting=setting, seed=int(seed))


# --- cameras -------------------------------------------------------------------------------------------

def sample_intrinsics(rng: np.random.Generator, long_side: int, aspect: str | None = None,
                      fov_deg: float | None = None) -> tuple[np.ndarray, int, int]:
    """((fx, fy, cx, cy) in pixels, height, width) of a phone-like camera: `aspect` one of ASPECTS
    (random when None), `fov_deg` across the long side (random in FOV_DEG when None)."""
    aspect = aspect or str(rng.choice(list(ASPECT_ODDS), p=list(ASPECT_ODDS.values())))
    if aspect not in ASPECTS:
        raise ValueError(f"unknown aspect {aspect!r}; expected one of {', '.join(ASPECTS)}")
    ratio = ASPECTS[aspect]
    width, height = (long_side, round(long_side / ratio)) if ratio >= 1 else (round(long_side * ratio), long_side)
    fov = rng.uniform(*FOV_DEG) if fov_deg is None else fov_deg
    focal = 0.5 * long_side / np.tan(np.deg2rad(fov) / 2)
    cx, cy = np.array([width, height]) * (0.5 + np.clip(rng.normal(0, 0.015, 2), -PRINCIPAL_JITTER, PRINCIPAL_JITTER))
    return np.array([focal, focal, cx, cy]), int(height), int(width)


def _roll(c2w: np.ndarray, angles: np.ndarray) -> np.ndarray:
    c, s = np.cos(angles), np.sin(angles)
    rz = np.zeros((len(angles), 4, 4))
    rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1] = c, -s, s, c
    rz[:, 2, 2] = rz[:, 3, 3] = 1.0
    return c2w @ rz


def inside_solids(world: PhotoWorld, points: np.ndarray, margin: float = 0.05) -> np.ndarray:
    """bool [N]: which points lie inside (or within `margin` of) a box, ball or cylinder of the world."""
    inside = np.zeros(len(points), bool)
    for prim in world.prims:
        kind, centre, rotation, half = int(prim[0]), prim[1:4], prim[4:13].reshape(3, 3), prim[13:16]
        local = (points - centre) @ rotation
        if kind == pr.BOX:
            inside |= (np.abs(local) <= half + margin).all(-1)
        elif kind == pr.SPHERE:
            inside |= np.linalg.norm(local, axis=-1) <= half[0] + margin
        elif kind == pr.CYLINDER:
            inside |= (np.hypot(local[:, 0], local[:, 1]) <= half[0] + margin) & (np.abs(local[:, 2]) <= half[2] + margin)
    return inside


def _step_out_of_solids(world: PhotoWorld, eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Cameras that ended up inside furniture (clipped against a wall) step towards the objects until free."""
    eye = eye.copy()
    for _ in range(20):
        stuck = inside_solids(world, eye)
        if not stuck.any():
            break
        eye[stuck] += 0.1 * (target - eye[stuck])
    return eye


def sample_poses(world: PhotoWorld, rng: np.random.Generator, views: int, layout: str, intrinsics: np.ndarray,
                 height: int, width: int) -> np.ndarray:
    """c2w [views,4,4] laid out like a real capture: 'orbit' (rings at several heights and distances
    around the objects, over an arc, unevenly spaced) or 'forward' (a handheld sweep in front of them)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown capture layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    half_angle = np.arctan(0.5 * min(height, width) / intrinsics[0])
    framed = max(world.radius, MIN_FRAMED[world.setting != "table"])
    distance = max(framed / np.sin(half_angle) * rng.uniform(0.9, 1.6), world.radius + 0.15)
    target = world.target
    if layout == "orbit":
        rings = int(rng.integers(1, 4))
        ring = np.sort(rng.integers(0, rings, views))
        elevation = np.deg2rad(rng.uniform(5.0, 60.0, rings))[ring]
        radius = (distance * rng.uniform(0.8, 1.3, rings))[ring]
        arc, start = np.deg2rad(rng.uniform(120.0, 360.0)), rng.uniform(0, 2 * np.pi)
        azimuth = start + arc * np.concatenate([np.sort(rng.uniform(0, 1, np.sum(ring == r))) for r in range(rings)])
        eye = camera.spherical_to_position(radius, azimuth, elevation, target)
    else:
        forward = camera.yaw_pitch_to_forward(rng.uniform(0, 2 * np.pi), np.deg2rad(rng.uniform(5.0, 35.0)))
        right = np.cross(forward, camera.Z_UP)
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        rows = int(rng.integers(1, 4))
        s = np.sort(rng.uniform(0, rows, views))  # a serpentine path, walked at an uneven pace
        row, frac = np.minimum(s.astype(int), rows - 1), s % 1.0
        x = np.where(row % 2 == 0, frac, 1 - frac) * 2 - 1
        y = (row / max(rows - 1, 1)) * 2 - 1 if rows > 1 else np.zeros(views)
        spread = world.radius * np.array([rng.uniform(0.5, 1.5), rng.uniform(0.1, 0.5)])
        eye = (target + distance * forward + x[:, None] * spread[0] * right + y[:, None] * spread[1] * up
               + rng.normal(0, [0.03 * world.radius] * 2 + [0.05 * distance], (views, 3)) @ np.stack([right, up, forward]))
    eye = _step_out_of_solids(world, np.clip(eye, world.bounds[0], world.bounds[1]), target)
    aim = target + rng.normal(0, 0.12 * world.radius, (views, 3))
    return _roll(camera.look_at(eye, aim), np.deg2rad(rng.normal(0, 2.0, views)))


# --- sparse points ------------------------------------------------------------------------------------------

def sparse_points(images: np.ndarray, depth: np.ndarray, c2w: np.ndarray, intrinsics: np.ndarray,
                  rng: np.random.Generator, count: int, noise: float = 0.003, outliers: float = 0.01
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What structure from motion would find: surface points at textured pixels (drawn in proportion to
    the image gradient) that at least two views see (depth test), moved by noise × depth; a fraction
    `outliers` slid along their ray by up to ±30% (a wrong match triangulates somewhere on the ray).
    Returns (points float32 [P,3], colours uint8 [P,3], visibility bool [P,V])."""
    views, height, width = depth.shape
    grey = images.astype(np.float32).mean(-1)
    gradient = np.zeros_like(grey)
    gradient[:, :, 1:] += np.abs(np.diff(grey, axis=2))
    gradient[:, 1:, :] += np.abs(np.diff(grey, axis=1))
    weight = (gradient + 0.1 * gradient.mean()).ravel()
    weight[~np.isfinite(depth.ravel())] = 0.0
    pick = rng.choice(weight.size, size=min(3 * count, weight.size), replace=False, p=weight / weight.sum())
    view, y, x = np.unravel_index(pick, depth.shape)
    z = depth[view, y, x].astype(np.float64)
    fx, fy, cx, cy = intrinsics[view].T
    u, v = x + rng.uniform(0, 1, len(x)), y + rng.uniform(0, 1, len(y))
    cam = np.stack([(u - cx) / fx * z, (v - cy) / fy * z, z], -1)
    world = np.einsum("nij,nj->ni", c2w[view, :3, :3], cam) + c2w[view, :3, 3]
    pixels, proj_z = camera.project(world[:, None, :], c2w[None], intrinsics[None])  # [n,V,2], [n,V]
    px, py = np.floor(pixels[..., 0]).astype(int), np.floor(pixels[..., 1]).astype(int)
    inside = (proj_z > 0) & (px >= 0) & (px < width) & (py >= 0) & (py < height)
    seen_depth = depth[np.arange(views)[None, :], np.clip(py, 0, height - 1), np.clip(px, 0, width - 1)]
    visible = inside & (np.abs(proj_z - seen_depth) < 0.01 * proj_z + 1e-3)
    visible[np.arange(len(view)), view] = True
    keep = np.flatnonzero(visible.sum(1) >= 2)[:count]
    eye = c2w[view[keep], :3, 3]
    slide = np.where(rng.uniform(size=len(keep)) < outliers, rng.uniform(0.7, 1.3, len(keep)), 1.0)
    moved = eye + (world[keep] - eye) * slide[:, None] + rng.normal(0, 1, (len(keep), 3)) * (noise * z[keep])[:, None]
    return moved.astype(np.float32), images[view[keep], y[keep], x[keep]], visible[keep]


# --- a whole capture ----------------------------------------------------------------------------------------

def auto_exposure(world: PhotoWorld, c2w: np.ndarray, intrinsics: np.ndarray, height: int, width: int,
                  key: float) -> float:
    """The gain that brings the mean linear brightness of a few small test views to `key`, as a phone meters."""
    scale = 32 / max(height, width)
    small = intrinsics * scale
    h, w = max(8, round(height * scale)), max(8, round(width * scale))
    picks = slice(None, None, max(1, len(c2w) // 3))
    gain = 1.0
    for _ in range(2):  # the second pass corrects for what the tone curve's shoulder clipped
        images, _ = world.render(c2w[picks], small[picks], h, w, gain)
        mean = float(pr.srgb_to_linear()[images].mean())
        gain *= key / max(mean, 1e-3)
    return gain


def render_capture(seed: int, views: int | None = None, size: int = 128, layout: str | None = None,
                   aspect: str | None = None, fov_deg: float | None = None, setting: str | None = None,
                   points: int = 3000) -> Capture:
    """Capture `seed`: `views` photos (random in VIEWS when None) whose long side is `size` pixels, with
    up to `points` sparse points (0: none, and faster)."""
    world = make_world(seed, setting)
    rng = np.random.default_rng([seed, 1])
    views = int(rng.integers(VIEWS[0], VIEWS[1] + 1)) if views is None else int(views)
    layout = layout or str(rng.choice(LAYOUTS, p=[0.65, 0.35]))
    intrinsics, height, width = sample_intrinsics(rng, size, aspect, fov_deg)
    c2w = sample_poses(world, rng, views, layout, intrinsics, height, width)
    intrinsics = np.tile(intrinsics, (views, 1))
    exposure = auto_exposure(world, c2w, intrinsics, height, width, key=rng.uniform(0.14, 0.26))
    gain = exposure * np.exp(rng.normal(0, 0.04, views))  # a phone meters every photo again
    images, depth = world.render(c2w, intrinsics, height, width, gain)
    cloud, colours, visibility = sparse_points(images, depth, c2w, intrinsics, rng, points) if points else (
        np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8), np.zeros((0, views), bool))
    meta: dict[str, Any] = {"format": "procedural", "kind": KIND, "seed": int(seed), "size": int(size),
                            "setting": world.setting, "layout": layout,
                            "near": float(depth.min()), "far": float(depth[np.isfinite(depth)].max())}
    names = [f"IMG_{i:04d}.png" for i in range(views)]
    view_set = ViewSet(images, c2w, intrinsics, names=names, source=f"{KIND}:{seed}", points=cloud,
                       point_colors=colours, meta=meta)
    return Capture(view_set, depth, visibility, world)


# --- on disk ------------------------------------------------------------------------------------------------

def write_capture(capture: Capture, out: str | Path) -> Path:
    """One capture as a folder `load_views` reads: images/*.png and a COLMAP text model in sparse/0
    (one PINHOLE camera, poses, the sparse points with their tracks), plus depth.npy (float32 [V,H,W],
    camera z per pixel) and capture.json (the meta: seed, setting, layout, near, far)."""
    from gqn.data.readers import colmap

    out = Path(out)
    if out.exists():
        raise GQNError(f"{out}: already exists; choose another --out or delete it")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "images").mkdir(parents=True)
    views = capture.views
    for name, image in zip(views.names, views.images):
        Image.fromarray(image).save(partial / "images" / name)
    height, width = views.size
    model = colmap.Model(cameras={1: colmap.Camera(1, "PINHOLE", width, height, views.intrinsics[0].copy())})
    pixels, _ = camera.project(views.points[:, None, :], views.c2w[None], views.intrinsics[None])  # [P,V,2]
    tracks: list[list[tuple[int, int]]] = [[] for _ in range(len(views.points))]
    for i, name in enumerate(views.names):
        seen = np.flatnonzero(capture.visibility[:, i])
        for slot, point in enumerate(seen):
            tracks[point].append((i + 1, slot))
        qvec, tvec = camera.c2w_to_colmap(views.c2w[i])
        model.images[i + 1] = colmap.Image(i + 1, qvec, tvec, 1, name, pixels[seen, i], seen + 1)
    for j, (xyz, rgb) in enumerate(zip(views.points, views.point_colors)):
        model.points[j + 1] = colmap.Point3D(j + 1, xyz.astype(np.float64), rgb, 0.5, np.array(tracks[j], np.int64))
    colmap.write_model(model, partial / "sparse" / "0", binary=False)
    np.save(partial / "depth.npy", capture.depth)
    (partial / "capture.json").write_text(json.dumps(views.meta, indent=2) + "\n")
    os.replace(partial, out)
    return out


def write_dataset(out: str | Path, scenes: int, views: int, size: int, seed: int = 0, as_json: bool = False,
                  points: int = DATASET_POINTS) -> dict[str, Any]:
    """`scenes` square photo-world captures of `views` views at size×size (random field of view and
    principal point per capture) into a dataset folder (gqn.data.dataset). Scene i is capture
    scene_seed(seed, i): render_capture(that seed, views, size, aspect="square") gives it again
    with its depth; depth_range.npy keeps each capture's exact (near, far) and points.npy up to `points`
    of its sparse points (NaN rows where it has fewer)."""
    from gqn.data.dataset import DEPTH_RANGE, POINTS, DatasetWriter, scene_seed
    from gqn.progress import Progress

    if scenes < 1 or views < 2 or not 8 <= size <= 1024:
        raise GQNError(f"need scenes >= 1, views >= 2 and 8 <= size <= 1024; got {scenes}, {views}, {size}")
    args = {"kind": KIND, "scenes": scenes, "views": views, "size": size, "seed": seed, "points": points}
    writer = DatasetWriter(out, scenes, views, size, args, extras=(DEPTH_RANGE, POINTS))
    resumed_from, start = writer.done, time.perf_counter()
    with Progress(scenes, f"{KIND} captures", as_json, initial=writer.done) as progress:
        while writer.done < scenes:
            capture = render_capture(scene_seed(seed, writer.done), views, size, aspect="square", points=points).views
            cloud = np.full((1, points, 3), np.nan, np.float32)
            cloud[0, :len(capture.points)] = capture.points
            writer.write(capture.images[None], capture.c2w[None], capture.intrinsics[None],
                         depth_range=np.array([[capture.meta["near"], capture.meta["far"]]]), points=cloud)
            progress.update(1)
    seconds = time.perf_counter() - start
    writer.finish({"format": "procedural", **args, "seeds": "scene i: seed * 1000003 + i", "created_by": "gqn scenes"})
    return {"out": str(writer.out), **args, "resumed_from": resumed_from, "seconds": round(seconds, 3),
            "views_per_s": round((scenes - resumed_from) * views / seconds, 1) if seconds > 0 else None}
