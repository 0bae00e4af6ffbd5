"""Photos of a textured box scene with known cameras: data for the photo readers and pose estimation.

The readers and `gqn poses` need photos whose true poses are known and which carry enough texture
for SIFT. A numpy ray caster of axis-aligned boxes on a ground plane, every face covered by its own
patch of coloured multi-scale noise, renders them at any size (1920×1080 in about a second).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gqn import camera

TEXTURE_SIZE = 2048
TEXELS_PER_UNIT = 256.0
GROUND_HALF_SIZE = 7.0
SKY = np.array([200.0, 215.0, 235.0], np.float32)
LIGHT = np.array([0.4, 0.3, 0.86], np.float32) / np.linalg.norm([0.4, 0.3, 0.86])


@dataclass
class PhotoScene:
    texture: np.ndarray        # uint8 [T,T,3], tileable noise shared by every face at its own offset
    box_min: np.ndarray        # float32 [B,3]
    box_max: np.ndarray        # float32 [B,3]
    face_offsets: np.ndarray   # int [B+1,3,2] texel offset per object (ground first) and face axis


def noise_texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """Tileable value noise over several octaves, three independent channels: blobs SIFT can find."""
    out = np.zeros((3, size, size), np.float32)
    for cells, weight in ((8, 1.0), (16, 0.8), (32, 0.7), (64, 0.6), (128, 0.5)):
        grid = rng.uniform(-1.0, 1.0, (3, cells, cells)).astype(np.float32)
        upsample = smooth_upsampling(size, cells)
        out += weight * (upsample @ grid @ upsample.T)  # separable interpolation as two matrix products
    out = (out - out.mean()) / out.std()
    return np.clip(128 + 60 * out, 0, 255).astype(np.uint8).transpose(1, 2, 0).copy()


def smooth_upsampling(size: int, cells: int) -> np.ndarray:
    """[size, cells] weights interpolating a periodic grid of `cells` values with smoothstep (no grid lines)."""
    pos = np.arange(size, dtype=np.float32) * cells / size
    i0 = pos.astype(int)
    f = pos - i0
    f = f * f * (3 - 2 * f)
    matrix = np.zeros((size, cells), np.float32)
    matrix[np.arange(size), i0] += 1 - f
    matrix[np.arange(size), (i0 + 1) % cells] += f
    return matrix


def make_scene(seed: int = 0, boxes: int = 6) -> PhotoScene:
    rng = np.random.default_rng(seed)
    centers = np.concatenate([rng.uniform(-2.2, 2.2, (boxes, 2)), np.zeros((boxes, 1))], 1)
    half = rng.uniform(0.35, 0.9, (boxes, 3))
    box_min = centers - half * [1, 1, 0]
    box_max = centers + half * [1, 1, 2]
    return PhotoScene(
        texture=noise_texture(TEXTURE_SIZE, rng),
        box_min=box_min.astype(np.float32), box_max=box_max.astype(np.float32),
        face_offsets=rng.integers(0, TEXTURE_SIZE, (boxes + 1, 3, 2)),
    )


def default_cameras(n: int, seed: int = 0, arc_deg: float = 160.0) -> np.ndarray:
    """n cameras on an arc around the boxes, varied height and distance, all looking near the middle."""
    rng = np.random.default_rng(seed + 1)
    azimuth = np.deg2rad(np.linspace(-arc_deg / 2, arc_deg / 2, n) - 90.0)
    elevation = np.deg2rad(rng.uniform(22.0, 38.0, n))
    radius = rng.uniform(6.5, 8.0, n)
    eye = camera.spherical_to_position(radius, azimuth, elevation)
    target = rng.uniform(-0.3, 0.3, (n, 3)) + [0.0, 0.0, 0.4]
    return camera.look_at(eye, target)


def render(scene: PhotoScene, c2w: np.ndarray, intrinsics: np.ndarray, width: int, height: int,
           chunk_rows: int = 128) -> np.ndarray:
    """uint8 [H,W,3] photo of `scene` from one OpenCV camera (pixel centres at +0.5)."""
    fx, fy, cx, cy = np.asarray(intrinsics, np.float64)
    origin = c2w[:3, 3].astype(np.float32)
    out = np.empty((height, width, 3), np.uint8)
    xs = ((np.arange(width) + 0.5 - cx) / fx).astype(np.float32)
    for top in range(0, height, chunk_rows):
        ys = ((np.arange(top, min(top + chunk_rows, height)) + 0.5 - cy) / fy).astype(np.float32)
        dirs_cam = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.float32(1.0)), -1)
        dirs = dirs_cam @ c2w[:3, :3].T.astype(np.float32)
        out[top:top + len(ys)] = _shade(scene, origin, dirs.reshape(-1, 3)).reshape(len(ys), width, 3)
    return out


def _shade(scene: PhotoScene, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    n = len(dirs)
    d = [np.ascontiguousarray(dirs[:, a]) for a in range(3)]  # one array per axis: 3× faster than [n,3]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = [1.0 / component for component in d]
        # Ground plane z = 0, a square of GROUND_HALF_SIZE.
        t_best = np.where(d[2] < 0, -origin[2] * inv[2], np.inf).astype(np.float32)
        off_ground = np.maximum(np.abs(origin[0] + t_best * d[0]), np.abs(origin[1] + t_best * d[1])) > GROUND_HALF_SIZE
        t_best[off_ground] = np.inf
        obj = np.zeros(n, np.int32)
        axis = np.full(n, 2, np.int32)
        for b, (lo, hi) in enumerate(zip(scene.box_min, scene.box_max), start=1):
            t0 = [(lo[a] - origin[a]) * inv[a] for a in range(3)]
            t1 = [(hi[a] - origin[a]) * inv[a] for a in range(3)]
            near = [np.minimum(t0[a], t1[a]) for a in range(3)]
            t_enter = np.maximum(np.maximum(near[0], near[1]), near[2])
            t_exit = np.minimum(np.minimum(np.maximum(t0[0], t1[0]), np.maximum(t0[1], t1[1])), np.maximum(t0[2], t1[2]))
            closer = (t_enter <= t_exit) & (t_enter > 0) & (t_enter < t_best)
            t_best[closer] = t_enter[closer]
            obj[closer] = b
            axis[closer] = np.where(near[0][closer] == t_enter[closer], 0,
                                    np.where(near[1][closer] == t_enter[closer], 1, 2))
    sky = ~np.isfinite(t_best)
    t_best[sky] = 0.0
    hit = origin + t_best[:, None] * dirs
    # Texture coordinates: the two world axes in the face's plane, shifted by the face's own offset.
    u_axis, v_axis = (axis + 1) % 3, (axis + 2) % 3
    rows = np.arange(n)
    offsets = scene.face_offsets[obj, axis]
    u = (np.floor(hit[rows, u_axis] * TEXELS_PER_UNIT).astype(np.int64) + offsets[:, 0]) % TEXTURE_SIZE
    v = (np.floor(hit[rows, v_axis] * TEXELS_PER_UNIT).astype(np.int64) + offsets[:, 1]) % TEXTURE_SIZE
    albedo = scene.texture[v, u].astype(np.float32)
    facing = -np.sign(dirs[rows, axis])                      # the face's normal is ±axis, towards the camera
    shade = 0.45 + 0.55 * np.clip(facing * LIGHT[axis], 0.0, 1.0)
    color = albedo * shade[:, None]
    color[sky] = SKY
    return np.clip(color, 0, 255).astype(np.uint8)


def render_photos(n: int, width: int, height: int, fov_x_deg: float = 60.0, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 [n,H,W,3], c2w [n,4,4], intrinsics [4]) of the default scene and cameras."""
    scene = make_scene(seed)
    c2w = default_cameras(n, seed)
    intrinsics = camera.intrinsics_from_fov(width, height, fov_x_deg)
    images = np.stack([render(scene, pose, intrinsics, width, height) for pose in c2w])
    return images, c2w, intrinsics
