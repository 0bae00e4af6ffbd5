"""Classical image-based rendering from a capture's sparse points: depth from the points, warp and blend.

Why: structure from motion leaves a few thousand surface points behind, and on real captures the
depth they give is often better than what a plane sweep finds (../shared/GQN-NOTES.md). Steps:
1. Project the points into the query, keeping those no nearer point hides (gqn.nn.points).
2. Densify: each pixel takes its `CANDIDATES` nearest projected points' depths as candidates and
   keeps the one whose colours agree best across the k nearest photos (variance over a 3×3
   window, a small preference for nearer points) — so depth edges follow the photos instead of
   the points' Voronoi cells.
3. Warp: unproject each pixel at that depth into the k photos nearest by position and viewing
   direction, sample them bilinearly, and blend with weights that favour photos whose ray to the
   point is closest in angle to the query's, that see the point inside their frame, and whose
   colour agrees with the others (an occluded photo disagrees).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from gqn.baselines.nearest import capture_radius, nearest_views, photos_at
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.nn.epipolar import query_rays
from gqn.nn.points import nearest_point_depths

CANDIDATES = 6         # nearest projected points whose depths each pixel chooses from
ANGLE_SCALE = np.deg2rad(10.0)
SOURCE_OVERSAMPLE = 1.5  # photos are read (Lanczos) at this multiple of the output's size: 1.25-1.5 best
COLOUR_SCALE = 0.1     # colour disagreement (0..1 units) at which a photo's weight falls by e


def sparse_depth_render(views: ViewSet, query_c2w: np.ndarray, query_intrinsics: np.ndarray, size: tuple[int, int],
                        k: int = 4) -> np.ndarray:
    """uint8 [height, width, 3]: the query camera (OpenCV c2w [4,4], normalised intrinsics
    (fx/W, fy/H, cx/W, cy/H)) rendered from `views` and their sparse points, size = (height, width)."""
    height, width = size
    if views.points is None or len(views.points) < CANDIDATES:
        raise GQNError(f"{views.source}: sparse-depth rendering needs the capture's sparse points "
                       f"(a COLMAP model with points3D); found {0 if views.points is None else len(views.points)}")
    chosen = nearest_views(views.c2w, query_c2w, min(k, len(views)), capture_radius(views))[0]
    # float32 throughout: scenes span metres, and float64 would double the time
    query_c2w = torch.as_tensor(np.asarray(query_c2w, np.float32))
    photos = photos_at(views.images[chosen], round(max(height, width) * SOURCE_OVERSAMPLE))   # [k,3,h,w]
    photo_c2w = torch.as_tensor(views.c2w[chosen], dtype=torch.float32)
    photo_height, photo_width = photos.shape[-2:]
    in_pixels = np.array([photo_width, photo_height, photo_width, photo_height])
    photo_intrinsics = torch.as_tensor(views.normalised_intrinsics()[chosen] * in_pixels, dtype=torch.float32)
    normalised = torch.as_tensor(np.asarray(query_intrinsics, np.float32))[None]
    rays = query_rays(query_c2w[None], normalised, height, width)[1][0].reshape(height, width, 3)  # world, z = 1
    candidates, distance, _ = nearest_point_depths(torch.as_tensor(views.points, dtype=torch.float32)[None],
                                                   query_c2w[None], normalised, height, width, CANDIDATES)
    found = int(torch.isfinite(candidates[0, 0]).sum())
    if found == 0:
        raise GQNError("none of the capture's sparse points project into the query view; its depth is unknown")
    candidates, distance = (x[0, :, :found].T.reshape(-1, height, width) for x in (candidates, distance))  # [C,H,W]
    cost = torch.stack([_colour_cost(photos, photo_c2w, photo_intrinsics, query_c2w, rays, d) for d in candidates])
    cost = cost + 0.002 * distance                                                        # ties go to nearer points
    depth = torch.gather(candidates, 0, cost.argmin(0, keepdim=True))[0]
    colours, weights = _warp(photos, photo_c2w, photo_intrinsics, query_c2w, rays, depth)
    image = (colours * weights[:, None]).sum(0) / weights.sum(0).clamp_min(1e-8)
    return (image.permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()


def _sample(photos: torch.Tensor, c2w: torch.Tensor, intrinsics: torch.Tensor, points: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Colours of world points [H,W,3] in every photo [k,3,H,W], whether each photo frames them [k,H,W],
    and the unit rays from the photos' centres to them [k,H,W,3]."""
    k, _, h, w = photos.shape
    offset = points[None] - c2w[:, None, None, :3, 3]                        # [k,H,W,3]
    cam = torch.einsum("kji,khwj->khwi", c2w[:, :3, :3], offset)
    z = cam[..., 2].clamp_min(1e-6)
    u = intrinsics[:, 0, None, None] * cam[..., 0] / z + intrinsics[:, 2, None, None]
    v = intrinsics[:, 1, None, None] * cam[..., 1] / z + intrinsics[:, 3, None, None]
    inside = (cam[..., 2] > 1e-6) & (u >= 0) & (u <= w) & (v >= 0) & (v <= h)
    grid = torch.stack([2 * u / w - 1, 2 * v / h - 1], -1)                   # pixel centres at +0.5
    colours = F.grid_sample(photos, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return colours, inside, offset / offset.norm(dim=-1, keepdim=True)


def _colour_cost(photos, photo_c2w, photo_intrinsics, query_c2w, rays, depth) -> torch.Tensor:
    """How much the photos disagree about the colour at `depth` [H,W] (variance, 3×3 mean)."""
    colours, inside, _ = _sample(photos, photo_c2w, photo_intrinsics, query_c2w[:3, 3] + rays * depth[..., None])
    weight = inside.float()[:, None]
    count = weight.sum(0).clamp_min(1)
    mean = (colours * weight).sum(0) / count
    variance = (((colours - mean) ** 2) * weight).sum(0).mean(0) / count[0]
    variance = torch.where(count[0] >= 2, variance, torch.full_like(variance, 0.05))  # one photo proves nothing
    return F.avg_pool2d(variance[None, None], 3, stride=1, padding=1, count_include_pad=False)[0, 0]


def _warp(photos, photo_c2w, photo_intrinsics, query_c2w, rays, depth) -> tuple[torch.Tensor, torch.Tensor]:
    """Each photo's colour at the query's surface [k,3,H,W] and its blending weight [k,H,W]."""
    points = query_c2w[:3, 3] + rays * depth[..., None]
    colours, inside, photo_rays = _sample(photos, photo_c2w, photo_intrinsics, points)
    query_rays = rays / rays.norm(dim=-1, keepdim=True)
    angle = torch.arccos((photo_rays * query_rays[None]).sum(-1).clamp(-1, 1))
    weight = torch.exp(-angle / ANGLE_SCALE) * (inside.float() + 1e-4)      # outside the frame: a last resort
    median = colours.median(0).values
    disagreement = (colours - median).abs().mean(1)
    return colours, weight * torch.exp(-disagreement / COLOUR_SCALE)
