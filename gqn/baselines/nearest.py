"""The nearest photo: sharp, real, and in the wrong place by however far its camera is."""

from __future__ import annotations

import numpy as np
import torch

from gqn.data.images import fit_image, resize_image, working_size
from gqn.data.viewset import ViewSet


def nearest_views(view_c2w: np.ndarray, query_c2w: np.ndarray, k: int, radius: float) -> np.ndarray:
    """[Q,k] indices of the views that matter most for each query, best first: near in position (in
    units of `radius`, the cameras' typical distance from the scene) and looking the same way."""
    view_c2w, query_c2w = np.asarray(view_c2w, np.float64), np.asarray(query_c2w, np.float64).reshape(-1, 4, 4)
    distance = np.linalg.norm(query_c2w[:, None, :3, 3] - view_c2w[None, :, :3, 3], axis=-1) / radius
    turn = 1.0 - np.einsum("qi,vi->qv", query_c2w[:, :3, 2], view_c2w[:, :3, 2])
    return np.argsort(distance + turn, axis=1, kind="stable")[:, :k]


def capture_radius(views: ViewSet) -> float:
    """The cameras' typical distance from their centroid: the unit `nearest_views` measures in."""
    return max(float(np.median(np.linalg.norm(views.positions - views.positions.mean(0), axis=-1))), 1e-9)


def nearest_photo(views: ViewSet, query_c2w: np.ndarray, query_intrinsics: np.ndarray | None = None,
                  size: tuple[int, int] | None = None) -> np.ndarray:
    """The photo nearest the query camera, cut to the query's aspect and resized to `size`."""
    index = nearest_views(views.c2w, query_c2w, 1, capture_radius(views))[0, 0]
    return fit_image(views.images[index], size or views.size)


def photos_at(images: np.ndarray, long_side: int) -> torch.Tensor:
    """float [k,3,h,w] in [0,1]: photos uint8 [k,H,W,3] resized whole (Lanczos, as the truth is) to
    the long side they are read at (their aspect kept): warping full-size photos into a small view
    aliases. Normalised intrinsics hold at any size."""
    size = working_size(*images.shape[1:3], long_side)
    resized = np.stack([resize_image(image, size) for image in images])
    return torch.from_numpy(resized).permute(0, 3, 1, 2).float() / 255.0
