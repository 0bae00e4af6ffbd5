"""Depth candidates from a capture's sparse points: what structure from motion says about a query pixel.

Shared by the classical sparse-depth renderer (gqn.baselines.sparse_depth), which picks one candidate
per pixel by colour agreement, and the photo model's sweep (gqn.nn.sweep), which learns to choose
between them and its own answer. Points are projected into the query, those hidden behind a nearer
point of the same coarse cell (a z-buffer at about twice the points' spacing) are dropped, and each
pixel gets the depths of its nearest visible points.
"""

from __future__ import annotations

import math

import torch

VISIBILITY_CELLS = 2.0   # z-buffer cell size in point spacings
OCCLUSION_MARGIN = 0.05  # a point more than this fraction behind its cell's nearest is hidden


def nearest_point_depths(points: torch.Tensor, c2w: torch.Tensor, intrinsics: torch.Tensor, height: int, width: int,
                         count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each pixel of B queries of (height, width) (OpenCV c2w [B,4,4], normalised intrinsics
    [B,4]) the depths [B,P,count] of its `count` nearest visible points of points [B,M,3] (NaN rows:
    none) and their distances in pixels [B,P,count] (NaN and inf where fewer points are visible), and
    the mean spacing of the visible points in pixels [B] (inf: none visible)."""
    batch, pixels = c2w.shape[0], height * width
    depth = torch.full((batch, pixels, count), math.nan, device=c2w.device)
    distance = torch.full((batch, pixels, count), math.inf, device=c2w.device)
    spacing = torch.full((batch,), math.inf, device=c2w.device)
    y, x = torch.meshgrid(torch.arange(height, device=c2w.device) + 0.5,
                          torch.arange(width, device=c2w.device) + 0.5, indexing="ij")
    centres = torch.stack([x.reshape(-1), y.reshape(-1)], -1)
    for b in range(batch):
        cam = (points[b].float() - c2w[b, :3, 3]) @ c2w[b, :3, :3]
        z = cam[:, 2]
        fx, fy, cx, cy = intrinsics[b].float().unbind(-1)
        u = (fx * cam[:, 0] / z + cx) * width
        v = (fy * cam[:, 1] / z + cy) * height
        inside = torch.isfinite(cam).all(-1) & (z > 1e-6) & (u >= 0) & (u < width) & (v >= 0) & (v < height)
        u, v, z = u[inside], v[inside], z[inside]
        if len(z) == 0:
            continue
        spacing[b] = math.sqrt(pixels / len(z))
        cell = max(1.0, VISIBILITY_CELLS * float(spacing[b]))
        columns = math.ceil(width / cell)
        index = (v / cell).long() * columns + (u / cell).long()
        nearest = torch.full((math.ceil(height / cell) * columns,), math.inf, device=c2w.device)
        nearest = nearest.scatter_reduce(0, index, z, reduce="amin")
        seen = z <= nearest[index] * (1 + OCCLUSION_MARGIN)
        found = min(count, int(seen.sum()))
        near, which = torch.cdist(centres, torch.stack([u[seen], v[seen]], -1)).topk(found, largest=False)
        depth[b, :, :found] = z[seen][which]
        distance[b, :, :found] = near
    return depth, distance, spacing
