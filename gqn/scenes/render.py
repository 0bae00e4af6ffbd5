"""A z-buffer triangle rasterizer in numba: flat Lambert + ambient shading, OpenCV pinhole cameras.

Why hand-written: the issue's measurements put pyrender and trimesh ray casting 30-100× below
the ≥ 20,000 Shepard-Metzler views/s a training run wants; this reaches that on 2 cores (see
benchmarks/bench_render.py). Shading is per triangle and view-independent (one directional
light fixed in the world), so it is computed once per scene in numpy and the rasterizer only
resolves visibility: per view, per triangle -> camera space, back-face cull, clip against the
near plane, project, walk the pixel centres of the clipped bounding box with incremental edge
functions, keep the nearest (largest interpolated 1/z). Views run in parallel (prange).

Pixel (i, j) covers [i, i+1) x [j, j+1); its centre (i + 0.5, j + 0.5) is what is tested, the
same convention as gqn.camera.project.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from gqn.scenes.geometry import face_normals

NEAR = 1e-2  # near plane in scene units; everything closer to the camera is clipped away
PARALLEL_MIN_PIXELS = 4 * 64 * 64  # fewer pixels than this render on the calling thread alone


def shade(triangles: np.ndarray, albedo: np.ndarray, light_dir: np.ndarray, ambient: float) -> np.ndarray:
    """Lambert + ambient per triangle: albedo * (ambient + (1 - ambient) * max(0, n·l)) -> uint8 [T,3].

    `light_dir` points from the scene towards the light.
    """
    light = np.asarray(light_dir, dtype=np.float64)
    light = light / np.linalg.norm(light)
    lambert = np.clip(face_normals(triangles) @ light, 0.0, None)
    intensity = ambient + (1.0 - ambient) * lambert
    colour = np.asarray(albedo, dtype=np.float64) * intensity[:, None]
    return np.round(np.clip(colour, 0.0, 1.0) * 255.0).astype(np.uint8)


def rasterize(triangles: np.ndarray, colours: np.ndarray, tri_start: np.ndarray, tri_end: np.ndarray,
              background: np.ndarray, scene_of_view: np.ndarray, c2w: np.ndarray, intrinsics: np.ndarray,
              size: int) -> np.ndarray:
    """Render V views of one or many scenes in one parallel call.

    triangles      [T,3,3] world triangles of all scenes, concatenated
    colours        uint8 [T,3] shaded colour per triangle
    tri_start/end  [S] the triangle range of each scene
    background     uint8 [S,3]
    scene_of_view  [V] which scene each view shows
    c2w            [V,4,4] OpenCV camera-to-world; intrinsics [V,4] (fx, fy, cx, cy) in pixels
    returns        uint8 [V,size,size,3]
    """
    views = len(c2w)
    out = np.empty((views, size, size, 3), dtype=np.uint8)
    # Waking worker threads costs more than a few views take (milliseconds on a busy machine).
    kernel = _rasterize_parallel if views * size * size >= PARALLEL_MIN_PIXELS else _rasterize_serial
    kernel(
        np.ascontiguousarray(triangles, dtype=np.float64), np.ascontiguousarray(colours, dtype=np.uint8),
        np.ascontiguousarray(tri_start, dtype=np.int64), np.ascontiguousarray(tri_end, dtype=np.int64),
        np.ascontiguousarray(background, dtype=np.uint8), np.ascontiguousarray(scene_of_view, dtype=np.int64),
        np.ascontiguousarray(c2w, dtype=np.float64), np.ascontiguousarray(intrinsics, dtype=np.float64), out,
    )
    return out


@njit(cache=True, parallel=True)
def _rasterize_parallel(triangles, colours, tri_start, tri_end, background, scene_of_view, c2w, intrinsics, out):
    for v in prange(out.shape[0]):
        _draw_view(v, triangles, colours, tri_start, tri_end, background, scene_of_view, c2w, intrinsics, out)


@njit(cache=True)
def _rasterize_serial(triangles, colours, tri_start, tri_end, background, scene_of_view, c2w, intrinsics, out):
    for v in range(out.shape[0]):
        _draw_view(v, triangles, colours, tri_start, tri_end, background, scene_of_view, c2w, intrinsics, out)


@njit(cache=True)
def _draw_view(v, triangles, colours, tri_start, tri_end, background, scene_of_view, c2w, intrinsics, out):
    """Render view v into out[v]: transform, cull, clip, fill the z-buffer, then resolve colours."""
    size = out.shape[1]
    scene = scene_of_view[v]
    inv_depth = np.zeros((size, size))  # 0 = nothing drawn yet (infinitely far)
    nearest = np.full((size, size), -1, dtype=np.int64)
    fx, fy, cx, cy = intrinsics[v, 0], intrinsics[v, 1], intrinsics[v, 2], intrinsics[v, 3]
    r = c2w[v, :3, :3]
    t = c2w[v, :3, 3]
    cam = np.empty((3, 3))
    for k in range(tri_start[scene], tri_end[scene]):
        # world -> camera: R^T (p - t)
        for j in range(3):
            dx = triangles[k, j, 0] - t[0]
            dy = triangles[k, j, 1] - t[1]
            dz = triangles[k, j, 2] - t[2]
            for i in range(3):
                cam[j, i] = r[0, i] * dx + r[1, i] * dy + r[2, i] * dz
        # back face: the outward normal points away from the camera (at the origin)
        ax, ay, az = cam[1, 0] - cam[0, 0], cam[1, 1] - cam[0, 1], cam[1, 2] - cam[0, 2]
        bx, by, bz = cam[2, 0] - cam[0, 0], cam[2, 1] - cam[0, 1], cam[2, 2] - cam[0, 2]
        nx, ny, nz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
        if nx * cam[0, 0] + ny * cam[0, 1] + nz * cam[0, 2] >= 0.0:
            continue
        behind = 0
        for j in range(3):
            if cam[j, 2] < NEAR:
                behind += 1
        if behind == 0:
            _fill(cam[0], cam[1], cam[2], fx, fy, cx, cy, k, inv_depth, nearest)
        elif behind == 1:
            # one vertex behind: the visible part is a quad, drawn as two triangles
            j = 0 if cam[0, 2] < NEAR else (1 if cam[1, 2] < NEAR else 2)
            a, b, c = cam[j], cam[(j + 1) % 3], cam[(j + 2) % 3]
            ab = _near_point(a, b)
            ac = _near_point(a, c)
            _fill(ab, b, c, fx, fy, cx, cy, k, inv_depth, nearest)
            _fill(ab, c, ac, fx, fy, cx, cy, k, inv_depth, nearest)
        elif behind == 2:
            j = 0 if cam[0, 2] >= NEAR else (1 if cam[1, 2] >= NEAR else 2)
            a, b, c = cam[j], cam[(j + 1) % 3], cam[(j + 2) % 3]
            _fill(a, _near_point(a, b), _near_point(a, c), fx, fy, cx, cy, k, inv_depth, nearest)
    for y in range(size):
        for x in range(size):
            k = nearest[y, x]
            for ch in range(3):
                out[v, y, x, ch] = colours[k, ch] if k >= 0 else background[scene, ch]


@njit(cache=True, inline="always")
def _near_point(a, b):
    """Where the segment a-b crosses the near plane z = NEAR."""
    s = (NEAR - a[2]) / (b[2] - a[2])
    return np.array([a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1]), NEAR])


@njit(cache=True)
def _fill(p0, p1, p2, fx, fy, cx, cy, k, inv_depth, nearest):
    """Draw triangle k (camera-space vertices in front of the near plane) into the z-buffer."""
    size = inv_depth.shape[0]
    iz0, iz1, iz2 = 1.0 / p0[2], 1.0 / p1[2], 1.0 / p2[2]
    x0, y0 = fx * p0[0] * iz0 + cx, fy * p0[1] * iz0 + cy
    x1, y1 = fx * p1[0] * iz1 + cx, fy * p1[1] * iz1 + cy
    x2, y2 = fx * p2[0] * iz2 + cx, fy * p2[1] * iz2 + cy
    # pixel centres i + 0.5 inside the bounding box, clipped to the image
    xmin = max(0, math.ceil(min(x0, x1, x2) - 0.5))
    xmax = min(size - 1, math.floor(max(x0, x1, x2) - 0.5))
    ymin = max(0, math.ceil(min(y0, y1, y2) - 0.5))
    ymax = min(size - 1, math.floor(max(y0, y1, y2) - 0.5))
    if xmin > xmax or ymin > ymax:
        return
    area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    if abs(area) < 1e-12:
        return
    inv_area = 1.0 / area
    # barycentric weights as linear functions w = a*x + b*y + c (edge functions over the area)
    a0, b0 = (y1 - y2) * inv_area, (x2 - x1) * inv_area
    a1, b1 = (y2 - y0) * inv_area, (x0 - x2) * inv_area
    a2, b2 = (y0 - y1) * inv_area, (x1 - x0) * inv_area
    c0 = -(a0 * x1 + b0 * y1)
    c1 = -(a1 * x2 + b1 * y2)
    c2 = -(a2 * x0 + b2 * y0)
    az = a0 * iz0 + a1 * iz1 + a2 * iz2
    bz = b0 * iz0 + b1 * iz1 + b2 * iz2
    cz = c0 * iz0 + c1 * iz1 + c2 * iz2
    for y in range(ymin, ymax + 1):
        py = y + 0.5
        px = xmin + 0.5
        w0 = a0 * px + b0 * py + c0
        w1 = a1 * px + b1 * py + c1
        w2 = a2 * px + b2 * py + c2
        iz = az * px + bz * py + cz
        for x in range(xmin, xmax + 1):
            if w0 >= 0.0 and w1 >= 0.0 and w2 >= 0.0 and iz > inv_depth[y, x]:
                inv_depth[y, x] = iz
                nearest[y, x] = k
            w0 += a0
            w1 += a1
            w2 += a2
            iz += az
