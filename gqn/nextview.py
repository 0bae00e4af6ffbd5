"""Next-best-view: where a new photo would teach the model most, judged by the model's own doubt.

Candidate cameras sit on the sphere (or the half of it) that the capture's cameras suggest, all
looking at the scene centre from the cameras' typical distance. Each is scored by how much the
model's prior samples disagree there: the per-pixel standard deviation over samples, averaged over
the image. Where the samples agree the photos already pin the scene down; where they differ a
photo taken from there would settle it.

`gqn next-view --model M --views PATH --json` prints the candidates best first.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from gqn import camera
from gqn.data.normalize import scene_centre
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.shipped import MODEL_HELP, model_path

MAX_ELEVATION_DEG = 75.0  # as the procedural cameras: near the poles a camera's roll is undefined
HORIZON_DEG = 10.0        # a camera this far below (above) the centre makes the whole lower (upper) half count
CHUNK = 5                 # candidates per model call: progress between calls, and a low peak (10: +85 MB, 25: +160 MB)
GOLDEN_ANGLE = np.pi * (3.0 - np.sqrt(5.0))


@dataclass
class Ranking:
    """Candidate cameras ranked by the model's doubt, most unsure first."""

    c2w: np.ndarray          # [N,4,4] OpenCV camera-to-world, best first
    scores: np.ndarray       # [N] mean spread of the prior samples (pixel values in [0,1]), descending
    centre: np.ndarray       # [3] the point every candidate looks at
    radius: float            # their distance from it
    samples: int

    def to_json(self) -> dict[str, Any]:
        return {"centre": self.centre.tolist(), "radius": self.radius, "samples": self.samples,
                "candidates": [{"c2w": c2w.tolist(), "score": float(score)} for c2w, score in zip(self.c2w, self.scores)]}


def capture_sphere(c2w: np.ndarray, points: np.ndarray | None = None) -> tuple[np.ndarray, float, tuple[float, float]]:
    """(centre, radius, (lowest, highest) elevation in degrees) of the shell the cameras suggest.

    The centre is where the optical axes meet (or the middle of the sparse `points` where they do
    not), the radius the cameras' median distance from it. The band is the upper half, the lower
    half or the whole sphere (up to ±MAX_ELEVATION_DEG), by which sides of the centre's horizontal
    plane (world z-up) the cameras stand on; it reaches the cameras that stand beyond it.
    """
    c2w = np.asarray(c2w, np.float64)
    centre, method = scene_centre(c2w, points)
    if method in ("camera-centroid", "ahead"):   # "ahead": a forward-facing guess, not a scene seen from around
        raise GQNError(f"the {len(c2w)} camera(s) do not look at a common point (their optical axes do not meet "
                       "in front of them), so there is no scene to walk around: the guide needs a capture around it")
    offsets = c2w[:, :3, 3] - centre
    distances = np.linalg.norm(offsets, axis=-1)
    radius = float(np.median(distances))
    elevations = np.rad2deg(np.arcsin(np.clip(offsets[:, 2] / np.maximum(distances, 1e-12), -1.0, 1.0)))
    low = -MAX_ELEVATION_DEG if elevations.min() < -HORIZON_DEG else min(0.0, float(elevations.min()))
    high = MAX_ELEVATION_DEG if elevations.max() > HORIZON_DEG else max(0.0, float(elevations.max()))
    return centre, radius, (low, high)


def candidate_cameras(c2w: np.ndarray, count: int, points: np.ndarray | None = None) -> np.ndarray:
    """`count` cameras spread evenly (a Fibonacci lattice, equal area each) over the sphere band
    of the capture_sphere, all looking at its centre: [count,4,4]."""
    if count < 1:
        raise GQNError(f"the number of candidates must be at least 1, got {count}")
    centre, radius, (low, high) = capture_sphere(c2w, points)
    heights = np.sin(np.deg2rad(low)) + (np.arange(count) + 0.5) / count * (np.sin(np.deg2rad(high)) - np.sin(np.deg2rad(low)))
    eyes = camera.spherical_to_position(radius, GOLDEN_ANGLE * np.arange(count), np.arcsin(heights), centre)
    return camera.look_at(eyes, centre)


def spread(samples: np.ndarray) -> np.ndarray:
    """uint8 [Q,S,H,W,3] prior samples -> [Q]: the per-pixel standard deviation over the S samples
    (pixel values in [0,1]), averaged over pixels and channels."""
    x = np.asarray(samples, np.float32) / 255.0
    return x.std(axis=1).mean(axis=(1, 2, 3))


def score_cameras(model: Any, views: ViewSet, c2w: np.ndarray, samples: int = 8, seed: int = 0,
                  progress: Callable[[int, int], None] | None = None,
                  cancelled: Callable[[], bool] | None = None) -> np.ndarray | None:
    """The model's spread at each camera c2w [N,4,4] given `views` as context: [N]; None if cancelled.

    The cameras go to the model CHUNK at a time (each call encodes the few context views again:
    ~2 % of a chunk's cost), so progress and cancel have something to act on and memory stays low."""
    if samples < 2:
        raise GQNError(f"scoring needs at least 2 samples per camera to measure their spread, got {samples}")
    scores = np.empty(len(c2w))
    for start in range(0, len(c2w), CHUNK):
        if cancelled is not None and cancelled():
            return None
        part = slice(start, start + CHUNK)
        scores[part] = spread(model.predict(views, c2w[part], samples=samples, seed=seed))
        if progress is not None:
            progress(min(start + CHUNK, len(c2w)), len(c2w))
    return scores


def rank_views(model: Any, views: ViewSet, count: int = 200, samples: int = 8, seed: int = 0,
               capture: ViewSet | None = None, progress: Callable[[int, int], None] | None = None,
               cancelled: Callable[[], bool] | None = None) -> Ranking | None:
    """`count` candidate cameras, most unsure first, for the model given `views`; None if cancelled.

    The candidates surround `capture` (default: the views themselves), e.g. a whole capture of
    which the model is given only some views."""
    if len(views) == 0:
        raise GQNError(f"{views.source}: no views to plan the next one from")
    capture = views if capture is None else capture
    try:
        centre, radius, _ = capture_sphere(capture.c2w, capture.points)
        candidates = candidate_cameras(capture.c2w, count, capture.points)
    except GQNError as error:
        raise GQNError(f"{capture.source}: {error}") from None
    scores = score_cameras(model, views, candidates, samples, seed, progress, cancelled)
    if scores is None:
        return None
    order = np.argsort(-scores, kind="stable")
    return Ranking(candidates[order], scores[order], centre, radius, samples)


# --- `gqn next-view` ------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help=MODEL_HELP)
    parser.add_argument("--views", required=True, help="the capture: a scene in any supported format, or a dataset (see --scene)")
    parser.add_argument("--scene", type=int, default=None, help="which scene of a multi-scene dataset")
    parser.add_argument("--contexts", type=int, nargs="+", help="indices of the views the model is given (default: all); "
                        "the candidates surround all views either way")
    parser.add_argument("--candidates", type=int, default=200, help="candidate cameras around the capture (default 200)")
    parser.add_argument("--samples", type=int, default=8, help="prior samples per candidate (default 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=None, help="print only the best TOP candidates")
    parser.add_argument("--json", action="store_true", help="JSON lines: progress, then the ranking")


def run(args: argparse.Namespace) -> int:
    from gqn import load_model, load_views
    from gqn.progress import Progress, report

    capture = load_views(args.views, scene=args.scene)
    model = load_model(model_path(args.model, capture))
    contexts = list(range(len(capture))) if args.contexts is None else args.contexts
    if not contexts or any(not 0 <= i < len(capture) for i in contexts):
        raise GQNError(f"{args.views}: --contexts must name views 0 to {len(capture) - 1}, got {contexts}")
    views = capture[contexts]
    with Progress(args.candidates, "scoring candidates", args.json) as bar:
        ranking = rank_views(model, views, args.candidates, args.samples, args.seed, capture=capture,
                             progress=lambda done, _total: bar.update(done - bar.done))
    result = ranking.to_json()
    result["candidates"] = result["candidates"][:args.top]
    if args.json:
        report({"event": "result", "views": len(views), **result}, True)
    else:
        print(f"{args.candidates} candidates around {len(views)} views (centre {np.round(ranking.centre, 3).tolist()}, "
              f"radius {ranking.radius:.3f}); most unsure first:")
        for rank, candidate in enumerate(result["candidates"][:args.top or 10]):
            position = np.round(np.array(candidate["c2w"])[:3, 3], 3).tolist()
            print(f"{rank + 1:3d}. spread {candidate['score']:.4f} at {position}")
    return 0
