"""Asking the model what a camera sees, without Qt: shared by the worker thread and headless export."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from gqn.baselines import nearest_views, plane_sweep
from gqn.baselines.nearest import capture_radius
from gqn.baselines.plane_sweep import NEAREST, query_depth_range
from gqn.data.viewset import ViewSet


@dataclass
class QueryCamera:
    """The imagined camera's lens: normalised intrinsics (fx/W, fy/H, cx/W, cy/H) and the (height,
    width) it is painted at."""

    intrinsics: np.ndarray
    size: tuple[int, int]

    @classmethod
    def from_pixels(cls, intrinsics: np.ndarray, size: tuple[int, int]) -> "QueryCamera":
        height, width = size
        return cls(np.asarray(intrinsics, np.float64) / [width, height, width, height], (height, width))


@dataclass
class Prediction:
    """What the model imagined at one pose (and the true image there, where one exists)."""

    seq: int
    c2w: np.ndarray                 # [4,4] the pose asked for
    mean: np.ndarray | None         # uint8 [H,W,3] mean of the samples; None without a model
    std: np.ndarray | None          # float32 [H,W] per-pixel spread of the samples in [0,1]; None for one sample
    samples: int
    draft: bool
    truth: np.ndarray | None = None      # uint8 [H,W,3] exact render at c2w (procedural scenes)
    classical: np.ndarray | None = None  # uint8 [H,W,3] plane-sweep rendering from the context photos
    seconds: float = 0.0


def summarize(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 [S,H,W,3] -> (mean image uint8 [H,W,3], per-pixel std averaged over RGB [H,W] or None)."""
    x = samples.astype(np.float32) / 255.0
    mean = (x.mean(0) * 255.0 + 0.5).astype(np.uint8)
    std = x.std(0).mean(-1) if len(samples) > 1 else None
    return mean, std


def classical_view(views: ViewSet, indices: tuple[int, ...], c2w: np.ndarray, query: QueryCamera) -> np.ndarray:
    """The plane sweep from the context photos nearest the pose; only those few photos are copied
    (a capture's hundred photos are not, on every full view)."""
    context = np.asarray(indices)
    chosen = context[nearest_views(views.c2w[context], c2w, min(NEAREST, len(context)), capture_radius(views))[0]]
    return plane_sweep(views[chosen], c2w, query.intrinsics, query.size, depth_range=query_depth_range(views, c2w))


class Predictor:
    """Encodes each context set once and keeps the last few (a context set is a model, a ViewSet
    and the indices of the views given to the model); the model places the scene and picks the
    views that matter for each query itself."""

    def __init__(self, keep: int = 4) -> None:
        self._cache: OrderedDict[tuple[int, ...], tuple[Any, ViewSet, Any]] = OrderedDict()
        self.keep = keep
        self.encodings = 0  # how many context sets were encoded (tests check the cache with it)

    def context(self, model: Any, views: ViewSet, indices: tuple[int, ...]) -> Any:
        entry = self._cache.get(indices)
        if entry is not None and entry[0] is model and entry[1] is views:
            self._cache.move_to_end(indices)
            return entry[2]
        encoded = model.encode_views(views[list(indices)])
        self.encodings += 1
        self._cache[indices] = (model, views, encoded)
        while len(self._cache) > self.keep:
            self._cache.popitem(last=False)
        return encoded

    def predict(self, model: Any, views: ViewSet, indices: tuple[int, ...], c2w: np.ndarray, samples: int,
                seed: int = 0, query: QueryCamera | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """(mean uint8 [H,W,3], std [H,W] or None) of `samples` prior samples at scene pose c2w [4,4],
        through the `query` lens (by default the first context view's, at the model's resolution)."""
        encoding = self.context(model, views, tuple(indices))
        intrinsics, size = (None, None) if query is None else (query.intrinsics, query.size)
        drawn = model.sample_views(encoding, c2w, samples, seed, intrinsics, size)[0]
        return summarize(drawn)

    def run(self, seq: int, model: Any, views: ViewSet, indices: tuple[int, ...], c2w: np.ndarray, samples: int,
            seed: int = 0, truth: Callable[[np.ndarray], np.ndarray] | None = None, draft: bool = False,
            query: QueryCamera | None = None) -> Prediction:
        """One Prediction; with no model only the true image (if any) and, for full views, the classical
        rendering are filled in."""
        start = time.perf_counter()
        mean, std = self.predict(model, views, indices, c2w, samples, seed, query) if model is not None else (None, None)
        true_image = truth(c2w) if truth is not None else None
        seconds = time.perf_counter() - start
        classical = None
        if not draft and query is not None and len(indices) >= 2:
            classical = classical_view(views, indices, c2w, query)
        return Prediction(seq, np.array(c2w), mean, std, samples, draft, true_image, classical, seconds)
