"""Plane-sweep image-based rendering: what geometry alone gives, with no learning.

For every pixel of the query, try D depths (fronto-parallel planes, uniform in disparity over the
scene's depth range); at each, look up the K nearest photos where that point projects. Where the
photos agree (low colour variance, summed over a small window so that texture decides, not noise)
the surface is there: take their colours at that depth, blended with more weight on photos whose
cameras are nearer the query. Sharp where the photos agree; it tears and ghosts at depth edges
and smears where no plane fits — the honest yardstick a learned model must beat.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from gqn.baselines.nearest import capture_radius, nearest_photo, nearest_views, photos_at
from gqn.data.normalize import capture_centre, depths_in_cameras, points_depth_range, region_box, scene_depth_range
from gqn.data.viewset import ViewSet
from gqn.nn.epipolar import project_rays, query_rays

PLANES = 32
NEAREST = 4
WINDOW = 5                 # pixels of the photo-consistency window (5×5)
UNSEEN_COST = 1.0          # cost of a depth fewer than two photos see: worse than any disagreement
SOURCE_OVERSAMPLE = 1.5    # photos are read (Lanczos) at this multiple of the output's size: sharper, unaliased


def query_depth_range(views: ViewSet, query_c2w: np.ndarray) -> tuple[float, float]:
    """(near, far) along the query's rays: from the sparse points the query sees when there are
    enough of them, else the capture's range (region, recorded bounds or camera layout)."""
    if views.points is not None and len(views.points) >= 8:
        depths = depths_in_cameras(query_c2w[None], views.points.astype(np.float64))[0]
        depths = depths[depths > 0]
        if len(depths) >= 8:
            return points_depth_range(depths)
    near, far, _ = scene_depth_range(views, capture_centre(views)[0], region_box(views))
    return near, far


@torch.inference_mode()
def plane_sweep(views: ViewSet, query_c2w: np.ndarray, query_intrinsics: np.ndarray | None = None,
                size: tuple[int, int] | None = None, k: int = NEAREST, planes: int = PLANES,
                depth_range: tuple[float, float] | None = None) -> np.ndarray:
    """The query camera's view (uint8 [height, width, 3]) rendered from the k photos nearest to it."""
    query_c2w = np.asarray(query_c2w, np.float64)
    if query_intrinsics is None:
        query_intrinsics = views.normalised_intrinsics()[0]
    height, width = size or views.size
    if len(views) < 2:
        return nearest_photo(views, query_c2w, query_intrinsics, (height, width))
    chosen = nearest_views(views.c2w, query_c2w, min(k, len(views)), capture_radius(views))[0]
    near, far = depth_range or query_depth_range(views, query_c2w)
    disparity = torch.linspace(1.0 / near, 1.0 / far, planes, dtype=torch.float32)

    photos = photos_at(views.images[chosen], round(max(height, width) * SOURCE_OVERSAMPLE))   # [K,3,h,w]
    origin, directions = query_rays(torch.tensor(query_c2w[None], dtype=torch.float32),
                                    torch.tensor(np.asarray(query_intrinsics)[None], dtype=torch.float32), height, width)
    uv, seen = project_rays(origin, directions, 1.0 / disparity,
                            torch.tensor(views.c2w[chosen][None], dtype=torch.float32),
                            torch.tensor(views.normalised_intrinsics()[chosen][None], dtype=torch.float32))
    colours = F.grid_sample(photos, uv[0] * 2 - 1, align_corners=False)                        # [K,3,P,D]
    seen = seen[0].float()                                                                     # [K,P,D]
    count = seen.sum(0).clamp_min(1)                                                           # [P,D]
    # Unseen points sample zero padding, so plain sums over the photos are sums over those that see.
    mean = colours.sum(0) / count
    variance = ((colours * colours).sum(0) / count - mean * mean).mean(0)                     # [P,D]
    cost = torch.where(seen.sum(0) >= 2, variance, torch.full_like(variance, UNSEEN_COST))
    cost = F.avg_pool2d(cost.T.reshape(planes, 1, height, width), WINDOW, stride=1, padding=WINDOW // 2,
                        count_include_pad=False).reshape(planes, -1).T                          # [P,D]
    best = cost.argmin(1)
    pixels = torch.arange(height * width)
    # At the chosen depth the colour favours the photos nearest the query.
    weight = seen[:, pixels, best] * view_weights(views.c2w[chosen], query_c2w)[:, None]       # [K,P]
    image = (colours[:, :, pixels, best] * weight[:, None]).sum(0) / weight.sum(0).clamp_min(1e-8)  # [3,P]
    unseen = weight.sum(0) == 0
    if unseen.any():   # no photo sees this pixel at the chosen plane: the nearest photo is all there is
        fallback = torch.tensor(nearest_photo(views, query_c2w, query_intrinsics, (height, width)))
        image[:, unseen] = fallback.reshape(-1, 3).T[:, unseen].float() / 255.0
    return (image.T.reshape(height, width, 3).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()


def view_weights(view_c2w: np.ndarray, query_c2w: np.ndarray) -> torch.Tensor:
    """[K] blend weights: photos whose cameras sit nearer the query and look the same way count more."""
    distance = np.linalg.norm(view_c2w[:, :3, 3] - query_c2w[:3, 3], axis=-1)
    scale = max(float(np.median(distance)), 1e-9)
    turn = 1.0 - view_c2w[:, :3, 2] @ query_c2w[:3, 2]
    return torch.tensor(1.0 / (distance / scale + 4.0 * turn + 0.1), dtype=torch.float32)

