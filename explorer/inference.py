"""Asking the model what a camera sees, without Qt: shared by the worker thread and headless export."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from gqn.data.viewset import ViewSet


@dataclass
class Prediction:
    """What the model imagined at one pose (and the true image there, where one exists)."""

    seq: int
    c2w: np.ndarray                 # [4,4] the pose asked for
    mean: np.ndarray | None         # uint8 [H,W,3] mean of the samples; None without a model
    std: np.ndarray | None          # float32 [H,W] per-pixel spread of the samples in [0,1]; None for one sample
    samples: int
    draft: bool
    truth: np.ndarray | None = None  # uint8 [h,w,3] exact render at c2w (procedural scenes)
    seconds: float = 0.0


def summarize(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 [S,H,W,3] -> (mean image uint8 [H,W,3], per-pixel std averaged over RGB [H,W] or None)."""
    x = samples.astype(np.float32) / 255.0
    mean = (x.mean(0) * 255.0 + 0.5).astype(np.uint8)
    std = x.std(0).mean(-1) if len(samples) > 1 else None
    return mean, std


def model_space(model: Any, views: ViewSet) -> tuple[ViewSet, np.ndarray]:
    """The views as the model takes them (`gqn fit` does the same: photo captures centred, z-up,
    scaled to its training cameras and cropped to its field of view), and the 4×4 similarity
    that carries the scene's poses into that space."""
    from gqn.fit import model_views

    moved = model_views(views, model.config.trained_on, model.config.image_size)
    before = np.array(views.meta.get("model_space", {}).get("transform", np.eye(4)))
    after = np.array(moved.meta.get("model_space", {}).get("transform", before))
    return moved, after @ np.linalg.inv(before)


def move_pose(transform: np.ndarray, c2w: np.ndarray) -> np.ndarray:
    """A camera pose carried by a similarity transform; it stays rigid (the scale moves only the position)."""
    scale = np.cbrt(np.linalg.det(transform[:3, :3]))
    moved = np.array(c2w, np.float64)
    moved[:3, :3] = transform[:3, :3] / scale @ c2w[:3, :3]
    moved[:3, 3] = transform[:3, :3] @ c2w[:3, 3] + transform[:3, 3]
    return moved


class Predictor:
    """Encodes each context set once and keeps the last few (a context set is a model, a ViewSet
    and the indices of the views given to the model)."""

    def __init__(self, keep: int = 4) -> None:
        self._cache: OrderedDict[tuple[int, ...], tuple[Any, ViewSet, Any]] = OrderedDict()
        self._space: tuple[Any, ViewSet, ViewSet, np.ndarray] | None = None
        self.keep = keep
        self.encodings = 0  # how many context sets were encoded (tests check the cache with it)

    def model_space(self, model: Any, views: ViewSet) -> tuple[ViewSet, np.ndarray]:
        if self._space is None or self._space[0] is not model or self._space[1] is not views:
            self._space = (model, views, *model_space(model, views))
        return self._space[2], self._space[3]

    def context(self, model: Any, views: ViewSet, indices: tuple[int, ...]) -> Any:
        entry = self._cache.get(indices)
        if entry is not None and entry[0] is model and entry[1] is views:
            self._cache.move_to_end(indices)
            return entry[2]
        encoded = model.encode_views(self.model_space(model, views)[0][list(indices)])
        self.encodings += 1
        self._cache[indices] = (model, views, encoded)
        while len(self._cache) > self.keep:
            self._cache.popitem(last=False)
        return encoded

    def predict(self, model: Any, views: ViewSet, indices: tuple[int, ...], c2w: np.ndarray,
                samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
        """(mean uint8 [H,W,3], std [H,W] or None) of `samples` prior samples at scene pose c2w [4,4]."""
        ctx = self.context(model, views, tuple(indices))
        query = move_pose(self.model_space(model, views)[1], c2w)
        drawn = model.sample_views(ctx, query[None], samples=samples, seed=seed)[0]
        return summarize(drawn)

    def run(self, seq: int, model: Any, views: ViewSet, indices: tuple[int, ...], c2w: np.ndarray, samples: int,
            seed: int = 0, truth: Callable[[np.ndarray], np.ndarray] | None = None, draft: bool = False) -> Prediction:
        """One Prediction; with no model only the true image (if any) is filled in."""
        start = time.perf_counter()
        mean, std = self.predict(model, views, indices, c2w, samples, seed) if model is not None else (None, None)
        true_image = truth(c2w) if truth is not None else None
        return Prediction(seq, np.array(c2w), mean, std, samples, draft, true_image,
                          time.perf_counter() - start)
