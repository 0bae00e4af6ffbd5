"""A numba ray caster for the photo world: analytic primitives, mip-mapped textures, a photo's pipeline.

Why analytic ray casting: spheres and cylinders stay round at any distance, every pixel gets an
exact depth for free, and one hit test per primitive is cheaper than rasterizing the hundreds of
triangles a round object needs. Per view the primitives' projected bounding boxes are binned
into TILE×TILE pixel tiles, so a pixel only tests what can cover it (the room, and the few
objects whose bounds overlap its tile). Within a tile the nearest hits come first, one primitive
at a time over whole pixel rows: branch-free loops that LLVM vectorises (8 pixels per instruction
with AVX-512), then each pixel is shaded. Views go to threads one at a time, as threads free up
(one full of objects costs several empty ones). Shading: textures sampled bilinearly at the mip
level of the pixel's footprint, one directional or point light with Lambert and a Blinn-Phong
highlight, a sky/ground hemisphere for ambient light, soft blob shadows under objects; then the
camera: exposure and white balance, vignetting, a filmic shoulder, sRGB, sensor noise.

A ray's direction is R (x', y', 1) in camera units, so its parameter t is the camera-space depth z.
Pixel (i, j) is sampled at its centre (i + 0.5, j + 0.5), as in gqn.camera.project.
"""

from __future__ import annotations

import math

import numpy as np
import numba
from numba import njit, prange

from gqn.scenes.photo_textures import LEVELS, SIZE

# primitive types; a primitive row is PRIM_FIELDS floats: type, centre (3), rotation local->world
# (3×3 row-major), half size (3: box half extents; sphere radius; cylinder radius, radius, half height)
BOX, SPHERE, CYLINDER, ROOM_BOX, ROOM_CYLINDER = range(5)
PRIM_FIELDS = 16
FACE_SLOTS = 6  # box faces -x +x -y +y -z +z; cylinders: side, top, bottom
# a material row: texture id, texels per unit along u and v, offset u and v (texels), tint rgb, specular
MAT_FIELDS = 9
# a blob shadow row: centre x y, the height of the surface it darkens, radius, strength
SHADOW_FIELDS = 5
# the light: kind (0 directional, 1 point), direction towards it or position (3), colour (3),
# sky ambient (3), ground ambient (3), point-light falloff distance
LIGHT_FIELDS = 14
TILE = 16
EPS = 1e-6
LUT_SIZE = 4096
LUT_MAX = 4.0  # linear radiance mapped by the tone curve (above: white)
SHININESS_SQUARINGS = 5  # highlight exponent 2**5 = 32
MIP_SCALE = tuple(0.5 ** level for level in range(LEVELS))


def tone_curve() -> np.ndarray:
    """float32 [LUT_SIZE]: linear radiance in [0, LUT_MAX] -> sRGB value in [0, 255] with a soft shoulder."""
    x = np.linspace(0.0, LUT_MAX, LUT_SIZE)
    knee = 0.75
    shoulder = knee + (1 - knee) * (1 - np.exp(-(x - knee) / (1 - knee)))
    y = np.where(x < knee, x, shoulder)
    srgb = np.where(y <= 0.0031308, 12.92 * y, 1.055 * np.power(np.maximum(y, 0.0031308), 1 / 2.4) - 0.055)
    return (255.0 * srgb).astype(np.float32)


def srgb_to_linear() -> np.ndarray:
    """float32 [256]: sRGB byte -> linear reflectance."""
    c = np.arange(256) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def render(prims: np.ndarray, faces: np.ndarray, materials: np.ndarray, shadows: np.ndarray, light: np.ndarray,
           texels: np.ndarray, offsets: np.ndarray, c2w: np.ndarray, intrinsics: np.ndarray, gain: np.ndarray,
           vignette: float, noise: float, noise_seed: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Render V views -> (uint8 [V,H,W,3], float32 depth [V,H,W]).

    c2w [V,4,4] OpenCV; intrinsics [V,4] pixels; gain [V,3] exposure × white balance per view;
    vignette: brightness lost at the image corner; noise: sensor noise amplitude in sRGB levels.
    """
    views = len(c2w)
    images = np.empty((views, height, width, 3), np.uint8)
    depth = np.empty((views, height, width), np.float32)
    # views one at a time to whichever thread is free: a view full of objects costs several empty ones
    chunk = numba.set_parallel_chunksize(1)
    try:
        _render_views(np.ascontiguousarray(prims, np.float64), np.ascontiguousarray(faces, np.int64),
                      np.ascontiguousarray(materials, np.float64),
                      np.ascontiguousarray(shadows, np.float64).reshape(-1, SHADOW_FIELDS),
                      np.ascontiguousarray(light, np.float64), texels, offsets,
                      np.ascontiguousarray(c2w, np.float64), np.ascontiguousarray(intrinsics, np.float64),
                      np.ascontiguousarray(gain, np.float64), float(vignette), float(noise), int(noise_seed),
                      _TONE, _LINEAR, images, depth)
    finally:
        numba.set_parallel_chunksize(chunk)
    return images, depth


_TONE = tone_curve()
_LINEAR = srgb_to_linear()


@njit(cache=True, parallel=True, fastmath=True, error_model="numpy")
def _render_views(prims, faces, materials, shadows, light, texels, offsets, c2w, intrinsics, gain, vignette, noise,
                  noise_seed, tone, linear, images, depth):
    for v in prange(images.shape[0]):
        _render_view(v, prims, faces, materials, shadows, light, texels, offsets, c2w, intrinsics, gain, vignette,
                     noise, noise_seed, tone, linear, images, depth)


@njit(cache=True, fastmath=True, error_model="numpy")
def _render_view(v, prims, faces, materials, shadows, light, texels, offsets, c2w, intrinsics, gain, vignette, noise,
                 noise_seed, tone, linear, images, depth):
    height, width = images.shape[1], images.shape[2]
    n_prims = prims.shape[0]
    fx, fy, cx, cy = intrinsics[v, 0], intrinsics[v, 1], intrinsics[v, 2], intrinsics[v, 3]
    rot = c2w[v, :3, :3]
    eye = c2w[v, :3, 3]
    # each primitive in its own frame: the eye, and the camera's rotation (ray directions follow by linearity)
    local_eye = np.empty((n_prims, 3))
    local_rot = np.empty((n_prims, 3, 3))
    for p in range(n_prims):
        for i in range(3):
            s = 0.0
            for j in range(3):
                s += prims[p, 4 + 3 * j + i] * (eye[j] - prims[p, 1 + j])
            local_eye[p, i] = s
            for k in range(3):
                s = 0.0
                for j in range(3):
                    s += prims[p, 4 + 3 * j + i] * rot[j, k]
                local_rot[p, i, k] = s
    # bin primitives into tiles by the screen box of their bounding boxes, blob shadows by their bounding spheres
    tiles_x, tiles_y = (width + TILE - 1) // TILE, (height + TILE - 1) // TILE
    bins = np.empty((tiles_y, tiles_x, n_prims), np.int64)
    counts = np.zeros((tiles_y, tiles_x), np.int64)
    for p in range(n_prims):
        kind = int(prims[p, 0])
        if kind == ROOM_BOX or kind == ROOM_CYLINDER:
            x0, x1, y0, y1 = 0, tiles_x - 1, 0, tiles_y - 1
        else:
            hx = prims[p, 13]
            hy, hz = (hx, hx) if kind == SPHERE else (prims[p, 14], prims[p, 15])
            x0, x1, y0, y1 = _tiles_of_box(prims[p], hx, hy, hz, eye, rot, fx, fy, cx, cy, tiles_x, tiles_y)
        for ty in range(y0, y1 + 1):
            for tx in range(x0, x1 + 1):
                bins[ty, tx, counts[ty, tx]] = p
                counts[ty, tx] += 1
    shadow_bins = np.empty((tiles_y, tiles_x, shadows.shape[0]), np.int64)
    shadow_counts = np.zeros((tiles_y, tiles_x), np.int64)
    for s in range(shadows.shape[0]):
        x0, x1, y0, y1 = _tiles_of_sphere(shadows[s, 0], shadows[s, 1], shadows[s, 2], shadows[s, 3], eye, rot,
                                          fx, fy, cx, cy, tiles_x, tiles_y)
        for ty in range(y0, y1 + 1):
            for tx in range(x0, x1 + 1):
                shadow_bins[ty, tx, shadow_counts[ty, tx]] = s
                shadow_counts[ty, tx] += 1
    hit_t, hit_p, hit_slot = np.empty((TILE, TILE)), np.empty((TILE, TILE), np.int64), np.empty((TILE, TILE), np.int64)
    _draw_tiles(v, prims, faces, materials, shadows, light, texels, offsets, c2w, intrinsics, gain, vignette, noise,
                noise_seed, tone, linear, images, depth, local_eye, local_rot, bins, counts, shadow_bins, shadow_counts,
                hit_t, hit_p, hit_slot)


@njit(cache=True, fastmath=True, error_model="numpy", _nrt=False)
def _draw_tiles(v, prims, faces, materials, shadows, light, texels, offsets, c2w, intrinsics, gain, vignette, noise,
                noise_seed, tone, linear, images, depth, local_eye, local_rot, bins, counts, shadow_bins, shadow_counts,
                hit_t, hit_p, hit_slot):
    """Trace and shade every pixel of view v, tile by tile: first the nearest hit of each pixel, primitive by
    primitive over the tile's rows (branch-free loops that LLVM vectorises, several pixels per instruction),
    then the shading of each pixel's hit. Compiled without numba's reference counting (_nrt=False; nothing here
    allocates): it counted every array passed into an inlined helper, per pixel, with atomic increments it could
    not prune, a fifth of the time."""
    height, width = images.shape[1], images.shape[2]
    tiles_y, tiles_x = counts.shape
    fx, fy, cx, cy = intrinsics[v, 0], intrinsics[v, 1], intrinsics[v, 2], intrinsics[v, 3]
    rot = c2w[v, :3, :3]
    eye = c2w[v, :3, 3]
    seed = (noise_seed * 1000003 + v * 7919) & 0xFFFFFFFF
    inv_corner2 = 1.0 / (max(cx, width - cx) ** 2 / (fx * fx) + max(cy, height - cy) ** 2 / (fy * fy))
    inv_fx, inv_fy = 1.0 / fx, 1.0 / fy
    inv_focal = 2.0 / (fx + fy)
    for ty in range(tiles_y):
        for tx in range(tiles_x):
            n_here, here = counts[ty, tx], bins[ty, tx]
            n_shadows, tile_shadows = shadow_counts[ty, tx], shadow_bins[ty, tx]
            y0, y1 = ty * TILE, min(height, ty * TILE + TILE)
            x0, n = tx * TILE, min(width, tx * TILE + TILE) - tx * TILE
            hit_t[:] = np.inf
            hit_p[:] = -1
            for b in range(n_here):
                p = here[b]
                kind = np.int64(prims[p, 0])
                ox, oy, oz = local_eye[p, 0], local_eye[p, 1], local_eye[p, 2]
                hx, hy, hz = prims[p, 13], prims[p, 14], prims[p, 15]
                # the local ray direction along a row: (dx0, dy0, dz0) at its first pixel, + (sx, sy, sz) per pixel
                sx, sy, sz = local_rot[p, 0, 0] * inv_fx, local_rot[p, 1, 0] * inv_fx, local_rot[p, 2, 0] * inv_fx
                rx0 = (x0 + 0.5 - cx) * inv_fx
                for y in range(y0, y1):
                    ry = (y + 0.5 - cy) * inv_fy
                    dx0 = local_rot[p, 0, 0] * rx0 + local_rot[p, 0, 1] * ry + local_rot[p, 0, 2]
                    dy0 = local_rot[p, 1, 0] * rx0 + local_rot[p, 1, 1] * ry + local_rot[p, 1, 2]
                    dz0 = local_rot[p, 2, 0] * rx0 + local_rot[p, 2, 1] * ry + local_rot[p, 2, 2]
                    ht, hp, hs = hit_t[y - y0], hit_p[y - y0], hit_slot[y - y0]
                    if kind == BOX:
                        _box_row(p, ox, oy, oz, dx0, dy0, dz0, sx, sy, sz, hx, hy, hz, n, ht, hp, hs)
                    elif kind == SPHERE:
                        _sphere_row(p, ox, oy, oz, dx0, dy0, dz0, sx, sy, sz, hx, n, ht, hp, hs)
                    elif kind == CYLINDER:
                        _cylinder_row(p, ox, oy, oz, dx0, dy0, dz0, sx, sy, sz, hx, hz, n, ht, hp, hs)
                    elif kind == ROOM_BOX:
                        _room_box_row(p, ox, oy, oz, dx0, dy0, dz0, sx, sy, sz, hx, hy, hz, n, ht, hp, hs)
                    else:
                        _room_cylinder_row(p, ox, oy, oz, dx0, dy0, dz0, sx, sy, sz, hx, hz, n, ht, hp, hs)
            for y in range(y0, y1):
                ry = (y + 0.5 - cy) * inv_fy
                for x in range(x0, x0 + n):
                    rx = (x + 0.5 - cx) * inv_fx
                    best_t, best_p, best_slot = hit_t[y - y0, x - x0], hit_p[y - y0, x - x0], hit_slot[y - y0, x - x0]
                    dwx = rot[0, 0] * rx + rot[0, 1] * ry + rot[0, 2]
                    dwy = rot[1, 0] * rx + rot[1, 1] * ry + rot[1, 2]
                    dwz = rot[2, 0] * rx + rot[2, 1] * ry + rot[2, 2]
                    if best_p < 0:  # nothing hit (a world always has a room around it): black, far away
                        r = g = bl = 0.0
                        depth[v, y, x] = np.inf
                    else:
                        r, g, bl = _shade(best_p, best_slot, best_t, eye, dwx, dwy, dwz, local_eye, local_rot, rx, ry,
                                          prims, faces, materials, shadows, tile_shadows, n_shadows,
                                          light, texels, offsets, linear, inv_focal)
                        depth[v, y, x] = best_t
                    fall = 1.0 - vignette * (rx * rx + ry * ry) * inv_corner2
                    h = _hash(seed ^ ((y * width + x) * 2654435761 & 0xFFFFFFFF))
                    images[v, y, x, 0] = _to_byte(r * gain[v, 0] * fall, tone, noise * ((h & 1023) / 511.5 - 1.0))
                    images[v, y, x, 1] = _to_byte(g * gain[v, 1] * fall, tone, noise * (((h >> 10) & 1023) / 511.5 - 1.0))
                    images[v, y, x, 2] = _to_byte(bl * gain[v, 2] * fall, tone, noise * (((h >> 20) & 1023) / 511.5 - 1.0))


@njit(cache=True, inline="always")
def _keep(i, t, hit, p, slot, hit_t, hit_p, hit_slot):
    """Keep the hit at pixel i if it is the nearest so far (selects, no branch: the row loops vectorise)."""
    nearer = hit & (t < hit_t[i])
    hit_t[i] = t if nearer else hit_t[i]
    hit_p[i] = p if nearer else hit_p[i]
    hit_slot[i] = slot if nearer else hit_slot[i]


@njit(cache=True, inline="always")
def _safe(d):
    """A direction component kept off zero (its sign lost; the ray is then parallel to within 1e-12)."""
    return d if abs(d) >= 1e-12 else 1e-12


@njit(cache=True, inline="always")
def _slabs(ox, oy, oz, dx, dy, dz, hx, hy, hz):
    """Entry and exit parameters of a ray in the slabs |x| <= hx, |y| <= hy, |z| <= hz: (near x, y, z, far x, y, z)."""
    ix, iy, iz = 1.0 / dx, 1.0 / dy, 1.0 / dz  # one division per axis, not two: divisions are much of a pixel's cost
    ax0, ax1 = (-hx - ox) * ix, (hx - ox) * ix
    ay0, ay1 = (-hy - oy) * iy, (hy - oy) * iy
    az0, az1 = (-hz - oz) * iz, (hz - oz) * iz
    return _min(ax0, ax1), _min(ay0, ay1), _min(az0, az1), _max(ax0, ax1), _max(ay0, ay1), _max(az0, az1)


@njit(cache=True, inline="always")
def _box_row(p, ox, oy, oz, dx0, dy0, dz0, sx, sy, sz, hx, hy, hz, n, hit_t, hit_p, hit_slot):
    """A box's hits along a row of n pixels; the slot is the entry face, the + face when the ray runs towards -."""
    for k in range(n):
        dx, dy, dz = _safe(dx0 + k * sx), _safe(dy0 + k * sy), _safe(dz0 + k * sz)
        nx, ny, nz, fx, fy, fz = _slabs(ox, oy, oz, dx, dy, dz, hx, hy, hz)
        t = _max(_max(nx, ny), nz)
        hit = (t <= _min(_min(fx, fy), fz)) & (t > EPS)
        slot = 5 if dz < 0 else 4
        slot = (3 if dy < 0 else 2) if t == ny else slot
        slot = (1 if dx < 0 else 0) if t == nx else slot
        _keep(k, t, hit, p, slot, hit_t, hit_p, hit_slot)


@njit(cache=True, inline="always")
def _room_box_row(p, ox, oy, oz, dx0, dy0, dz0, sx, sy, sz, hx, hy, hz, n, hit_t, hit_p, hit_slot):
    """Inside a room: where the rays of a row leave it; the slot is the exit face, the + face when d > 0."""
    for k in range(n):
        dx, dy, dz = _safe(dx0 + k * sx), _safe(dy0 + k * sy), _safe(dz0 + k * sz)
        nx, ny, nz, fx, fy, fz = _slabs(ox, oy, oz, dx, dy, dz, hx, hy, hz)
        t = _min(_min(fx, fy), fz)
        hit = (t > EPS) & (_max(_max(nx, ny), nz) <= t)
        slot = 5 if dz > 0 else 4
        slot = (3 if dy > 0 else 2) if t == fy else slot
        slot = (1 if dx > 0 else 0) if t == fx else slot
        _keep(k, t, hit, p, slot, hit_t, hit_p, hit_slot)


@njit(cache=True, inline="always")
def _sphere_row(p, ox, oy, oz, dx0, dy0, dz0, sx, sy, sz, r, n, hit_t, hit_p, hit_slot):
    """A sphere's hits along a row of n pixels (where the ray enters it)."""
    c = ox * ox + oy * oy + oz * oz - r * r
    for k in range(n):
        dx, dy, dz = dx0 + k * sx, dy0 + k * sy, dz0 + k * sz
        a = dx * dx + dy * dy + dz * dz
        b = ox * dx + oy * dy + oz * dz
        disc = b * b - a * c
        t = (-b - math.sqrt(_max(disc, 0.0))) / a
        _keep(k, t, (disc >= 0) & (t > EPS), p, 0, hit_t, hit_p, hit_slot)


@njit(cache=True, inline="always")
def _cylinder_row(p, ox, oy, oz, dx0, dy0, dz0, sx, sy, sz, r, hz, n, hit_t, hit_p, hit_slot):
    """A cylinder's hits along a row of n pixels: its side (slot 0), or the cap facing the eye (1 top, 2 bottom;
    none when the eye is level with the body)."""
    c = ox * ox + oy * oy - r * r
    cap = hz if oz > hz else -hz
    cap_slot = 1 if cap > 0 else 2
    for k in range(n):
        dx, dy, dz = dx0 + k * sx, dy0 + k * sy, _safe(dz0 + k * sz)
        a = _max(dx * dx + dy * dy, 1e-24)
        b = ox * dx + oy * dy
        disc = b * b - a * c
        t = (-b - math.sqrt(_max(disc, 0.0))) / a
        side = (disc >= 0) & (t > EPS) & (abs(oz + t * dz) <= hz)
        t = t if side else np.inf
        tc = (cap - oz) / dz
        ux, uy = ox + tc * dx, oy + tc * dy
        on_cap = (EPS < tc) & (tc < t) & (ux * ux + uy * uy <= r * r) & (abs(oz) > hz)
        _keep(k, tc if on_cap else t, side | on_cap, p, cap_slot if on_cap else 0, hit_t, hit_p, hit_slot)


@njit(cache=True, inline="always")
def _room_cylinder_row(p, ox, oy, oz, dx0, dy0, dz0, sx, sy, sz, r, hz, n, hit_t, hit_p, hit_slot):
    """Inside a cylindrical room: where the rays of a row leave it, through the wall (slot 0) or a cap (1 top,
    2 bottom)."""
    c = ox * ox + oy * oy - r * r
    for k in range(n):
        dx, dy, dz = dx0 + k * sx, dy0 + k * sy, _safe(dz0 + k * sz)
        a = _max(dx * dx + dy * dy, 1e-24)
        b = ox * dx + oy * dy
        disc = b * b - a * c
        t = (-b + math.sqrt(_max(disc, 0.0))) / a
        t = t if disc >= 0 else np.inf
        tc = ((hz if dz > 0 else -hz) - oz) / dz
        through_cap = tc < t
        t, slot = (tc, 1 if dz > 0 else 2) if through_cap else (t, 0)
        _keep(k, t, (EPS < t) & (t < np.inf), p, slot, hit_t, hit_p, hit_slot)


@njit(cache=True)
def _tiles_of_sphere(x, y, z, radius, eye, rot, fx, fy, cx, cy, tiles_x, tiles_y):
    """Tile range (x0, x1, y0, y1) that a world sphere can cover; empty (x0 > x1) when it is off screen."""
    dx, dy, dz = x - eye[0], y - eye[1], z - eye[2]
    px = rot[0, 0] * dx + rot[1, 0] * dy + rot[2, 0] * dz
    py = rot[0, 1] * dx + rot[1, 1] * dy + rot[2, 1] * dz
    pz = rot[0, 2] * dx + rot[1, 2] * dy + rot[2, 2] * dz
    if pz + radius <= EPS:
        return 0, -1, 0, -1  # wholly behind the camera
    if pz - radius <= EPS:
        return 0, tiles_x - 1, 0, tiles_y - 1  # around the camera: anywhere
    # over the sphere's bounding box x/z lies between the ratios at its corners
    za, zb = pz - radius, pz + radius
    umin = cx + fx * min((px - radius) / za, (px - radius) / zb)
    umax = cx + fx * max((px + radius) / za, (px + radius) / zb)
    vmin = cy + fy * min((py - radius) / za, (py - radius) / zb)
    vmax = cy + fy * max((py + radius) / za, (py + radius) / zb)
    x0, x1 = max(0, int(math.floor(umin)) // TILE), min(tiles_x - 1, int(math.floor(umax)) // TILE)
    y0, y1 = max(0, int(math.floor(vmin)) // TILE), min(tiles_y - 1, int(math.floor(vmax)) // TILE)
    return x0, x1, y0, y1


@njit(cache=True)
def _tiles_of_box(prim, hx, hy, hz, eye, rot, fx, fy, cx, cy, tiles_x, tiles_y):
    """Tile range (x0, x1, y0, y1) that a primitive within half extents (hx, hy, hz) of its frame can cover: the
    screen box of the 8 corners, a fifth fewer hit tests per pixel than the bounding sphere's (a table leg's sphere
    is ten times wider than the leg); the sphere's range when a corner is not in front of the camera."""
    umin, umax, vmin, vmax = np.inf, -np.inf, np.inf, -np.inf
    for corner in range(8):
        lx = hx if corner & 1 else -hx
        ly = hy if corner & 2 else -hy
        lz = hz if corner & 4 else -hz
        dx = prim[1] + prim[4] * lx + prim[5] * ly + prim[6] * lz - eye[0]
        dy = prim[2] + prim[7] * lx + prim[8] * ly + prim[9] * lz - eye[1]
        dz = prim[3] + prim[10] * lx + prim[11] * ly + prim[12] * lz - eye[2]
        px = rot[0, 0] * dx + rot[1, 0] * dy + rot[2, 0] * dz
        py = rot[0, 1] * dx + rot[1, 1] * dy + rot[2, 1] * dz
        pz = rot[0, 2] * dx + rot[1, 2] * dy + rot[2, 2] * dz
        if pz <= EPS:
            return _tiles_of_sphere(prim[1], prim[2], prim[3], math.sqrt(hx * hx + hy * hy + hz * hz), eye, rot,
                                    fx, fy, cx, cy, tiles_x, tiles_y)
        u, w = cx + fx * px / pz, cy + fy * py / pz
        umin, umax, vmin, vmax = min(umin, u), max(umax, u), min(vmin, w), max(vmax, w)
    x0, x1 = max(0, int(math.floor(umin)) // TILE), min(tiles_x - 1, int(math.floor(umax)) // TILE)
    y0, y1 = max(0, int(math.floor(vmin)) // TILE), min(tiles_y - 1, int(math.floor(vmax)) // TILE)
    return x0, x1, y0, y1


@njit(cache=True, inline="always")
def _min(a, b):
    """min of two numbers, inlined: numba compiles the builtins min, max and int as calls, which LLVM leaves
    out of line in a kernel this large (replaced here, with np.int64 for int, a pixel takes 2% less time)."""
    return a if a < b else b


@njit(cache=True, inline="always")
def _max(a, b):
    """max of two numbers, inlined (see _min)."""
    return a if a > b else b


@njit(cache=True, inline="always")
def _atan2(y, x):
    """atan2 to about 1e-5 rad by a short polynomial: texture coordinates need no more, and math.atan2
    cost a tenth of a round pixel's time."""
    ax, ay = abs(x), abs(y)
    a = _min(ax, ay) / (_max(ax, ay) + 1e-30)
    s = a * a
    r = ((-0.0464964749 * s + 0.15931422) * s - 0.327622764) * s * a + a
    if ay > ax:
        r = 1.5707963267948966 - r
    if x < 0:
        r = math.pi - r
    return -r if y < 0 else r


@njit(cache=True, inline="always")
def _hash(h):
    """A 32-bit integer mix (lowbias32): cheap deterministic per-pixel noise."""
    h ^= h >> 16
    h = (h * 0x7FEB352D) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 0x846CA68B) & 0xFFFFFFFF
    h ^= h >> 16
    return h


@njit(cache=True, inline="always")
def _to_byte(value, tone, dither):
    i = np.int64(value * ((LUT_SIZE - 1) / LUT_MAX))
    i = _min(_max(i, 0), LUT_SIZE - 1)
    # clamped after truncation, as integers: the same byte as before it, without a branch per channel
    return np.uint8(_min(_max(np.int64(tone[i] + dither + 0.5), 0), 255))


@njit(cache=True, inline="always")
def _surface(kind, slot, lx, ly, lz, hx, hy, hz):
    """Local normal (facing the viewer's side) and texture coordinates (scene units) at a local hit point."""
    if kind == BOX or kind == ROOM_BOX:
        axis = slot // 2
        sign = 1.0 if slot % 2 == 1 else -1.0
        if kind == ROOM_BOX:
            sign = -sign
        nx = sign if axis == 0 else 0.0
        ny = sign if axis == 1 else 0.0
        nz = sign if axis == 2 else 0.0
        if axis == 2:
            return nx, ny, nz, lx + hx, ly + hy
        if axis == 0:
            return nx, ny, nz, ly + hy, hz - lz
        return nx, ny, nz, lx + hx, hz - lz
    if kind == SPHERE:
        return lx / hx, ly / hx, lz / hx, (_atan2(ly, lx) + math.pi) * hx, _atan2(math.sqrt(_max(0.0, hx * hx - lz * lz)), lz) * hx
    inward = -1.0 if kind == ROOM_CYLINDER else 1.0
    if slot == 0:
        return inward * lx / hx, inward * ly / hx, 0.0, (_atan2(ly, lx) + math.pi) * hx, hz - lz
    nz = inward * (1.0 if slot == 1 else -1.0)
    return 0.0, 0.0, nz, lx + hx, ly + hx


@njit(cache=True, inline="always")
def _mirror(i, s):
    """Mirrored-repeat texel index (seamless for any image)."""
    period = 2 * s
    i &= period - 1  # s is a power of two: a mask is the (non-negative) modulo, far cheaper than %
    return period - 1 - i if i >= s else i


@njit(cache=True, inline="always")
def _sample(texels, offsets, tex, u, v, level, linear):
    """Bilinear sample of texture `tex` at mip `level`, (u, v) in level-0 texels -> linear rgb."""
    s = SIZE >> level
    scale = MIP_SCALE[level]
    x = u * scale - 0.5
    y = v * scale - 0.5
    x0, y0 = math.floor(x), math.floor(y)
    ax, ay = x - x0, y - y0
    base = offsets[level] + tex * s * s * 3
    # the two columns and two rows of the 2×2 texels, mirrored once each
    i0, i1 = 3 * _mirror(x0, s), 3 * _mirror(x0 + 1, s)
    row0, row1 = base + 3 * s * _mirror(y0, s), base + 3 * s * _mirror(y0 + 1, s)
    i00, i10, i01, i11 = row0 + i0, row0 + i1, row1 + i0, row1 + i1
    w00, w10, w01, w11 = (1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay
    r = w00 * texels[i00] + w10 * texels[i10] + w01 * texels[i01] + w11 * texels[i11]
    g = w00 * texels[i00 + 1] + w10 * texels[i10 + 1] + w01 * texels[i01 + 1] + w11 * texels[i11 + 1]
    b = w00 * texels[i00 + 2] + w10 * texels[i10 + 2] + w01 * texels[i01 + 2] + w11 * texels[i11 + 2]
    return linear[np.int64(r + 0.5)], linear[np.int64(g + 0.5)], linear[np.int64(b + 0.5)]


@njit(cache=True, inline="always")
def _shade(p, slot, t, eye, dwx, dwy, dwz, local_eye, local_rot, rx, ry, prims, faces, materials, shadows, near_shadows,
           n_near, light, texels, offsets, linear, inv_focal):
    kind = np.int64(prims[p, 0])
    lx = local_eye[p, 0] + t * (local_rot[p, 0, 0] * rx + local_rot[p, 0, 1] * ry + local_rot[p, 0, 2])
    ly = local_eye[p, 1] + t * (local_rot[p, 1, 0] * rx + local_rot[p, 1, 1] * ry + local_rot[p, 1, 2])
    lz = local_eye[p, 2] + t * (local_rot[p, 2, 0] * rx + local_rot[p, 2, 1] * ry + local_rot[p, 2, 2])
    nlx, nly, nlz, u, w = _surface(kind, slot, lx, ly, lz, prims[p, 13], prims[p, 14], prims[p, 15])
    nx = prims[p, 4] * nlx + prims[p, 5] * nly + prims[p, 6] * nlz
    ny = prims[p, 7] * nlx + prims[p, 8] * nly + prims[p, 9] * nlz
    nz = prims[p, 10] * nlx + prims[p, 11] * nly + prims[p, 12] * nlz
    px, py, pz = eye[0] + t * dwx, eye[1] + t * dwy, eye[2] + t * dwz
    inv_len = 1.0 / math.sqrt(dwx * dwx + dwy * dwy + dwz * dwz)
    vx, vy, vz = -dwx * inv_len, -dwy * inv_len, -dwz * inv_len  # towards the eye
    m = faces[p, slot]
    su, sv = materials[m, 1], materials[m, 2]
    # mip level: round(log2) of the texels under one pixel, t max(su, sv) / (focal sqrt(cos_view)), stretched by
    # the slant of the surface; compared squared, without a log, root or division on the way to the texture fetch
    cos_view = _max(abs(nx * vx + ny * vy + nz * vz), 0.05)
    footprint = t * _max(su, sv) * inv_focal
    footprint2, limit = footprint * footprint, 2.0 * cos_view
    level = 0
    while footprint2 > limit and level < LEVELS - 1:
        footprint2 *= 0.25
        level += 1
    ar, ag, ab = _sample(texels, offsets, np.int64(materials[m, 0]), u * su + materials[m, 3], w * sv + materials[m, 4],
                         level, linear)
    ar *= materials[m, 5]
    ag *= materials[m, 6]
    ab *= materials[m, 7]
    # the light
    if light[0] == 0.0:
        ldx, ldy, ldz, atten = light[1], light[2], light[3], 1.0
    else:
        ldx, ldy, ldz = light[1] - px, light[2] - py, light[3] - pz
        dist2 = ldx * ldx + ldy * ldy + ldz * ldz
        inv = 1.0 / math.sqrt(dist2)
        ldx, ldy, ldz = ldx * inv, ldy * inv, ldz * inv
        atten = 1.0 / (1.0 + dist2 / (light[13] * light[13]))
    ndl = nx * ldx + ny * ldy + nz * ldz
    shadow = 1.0
    if nz > 0.7:  # blob shadows under objects, on the surface they stand on
        for k in range(n_near):
            s = near_shadows[k]
            if abs(pz - shadows[s, 2]) < 1e-3:
                ddx, ddy = px - shadows[s, 0], py - shadows[s, 1]
                d2 = (ddx * ddx + ddy * ddy) / (shadows[s, 3] * shadows[s, 3])
                if d2 < 1.0:
                    shadow *= 1.0 - shadows[s, 4] * (1.0 - d2) * (1.0 - d2)
    direct = _max(ndl, 0.0) * atten * shadow
    hemi = 0.5 + 0.5 * nz
    occlusion = 0.6 + 0.4 * shadow
    spec = 0.0
    if ndl > 0 and materials[m, 8] > 0:
        hx, hy, hz = ldx + vx, ldy + vy, ldz + vz
        nh = _max(nx * hx + ny * hy + nz * hz, 0.0) / math.sqrt(hx * hx + hy * hy + hz * hz + 1e-12)
        for _ in range(SHININESS_SQUARINGS):
            nh *= nh
        spec = materials[m, 8] * nh * direct
    out_r = ar * (occlusion * (light[10] + (light[7] - light[10]) * hemi) + direct * light[4]) + spec * light[4]
    out_g = ag * (occlusion * (light[11] + (light[8] - light[11]) * hemi) + direct * light[5]) + spec * light[5]
    out_b = ab * (occlusion * (light[12] + (light[9] - light[12]) * hemi) + direct * light[6]) + spec * light[6]
    return out_r, out_g, out_b
