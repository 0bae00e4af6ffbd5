"""Many-photo captures: encoding a capture once, a query from its K nearest photos, the plane sweep.

A 100-photo capture is rendered by the project (textured boxes, 800×600 photos as real captures
load). Prints one JSON object: seconds to encode all photos (goal ≤ 10 s), milliseconds per query
at long side 128 with K contexts (1 sample and 4 samples), per query through `predict` on a
5-photo capture (what a query should cost with K views), and the plane sweep per 128-px view (goal
≤ 300 ms). The capture carries 3,000 sparse points scattered through the scene's box: they stand
in for structure from motion's (what they cost the photo model, not how accurate they are).
Run it alone on a quiet machine: `python benchmarks/bench_capture.py [--model M]`.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from gqn import ViewSet, camera, load_model
from gqn.baselines import plane_sweep
from gqn.data.photo_scene import default_cameras, make_scene, render

PHOTOS, WIDTH, HEIGHT, LONG_SIDE = 100, 800, 600, 128
POINTS = 3000


def fastest(run, repeats: int = 5) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resources/models/default")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = load_model(args.model)
    scene, c2w = make_scene(0), default_cameras(PHOTOS + 1, 0, arc_deg=300.0)
    intrinsics = camera.intrinsics_from_fov(WIDTH, HEIGHT, 60.0)
    low = np.stack([render(scene, pose, intrinsics / 4, WIDTH // 4, HEIGHT // 4) for pose in c2w])
    images = np.repeat(np.repeat(low, 4, axis=1), 4, axis=2)   # full-size photos, cheaply
    points = np.random.default_rng(0).uniform([-3, -3, 0], [3, 3, 1.8], (POINTS, 3)).astype(np.float32)
    views = ViewSet(images[:PHOTOS], c2w[:PHOTOS], np.tile(intrinsics, (PHOTOS, 1)), source="bench", points=points)
    query, query_intrinsics = c2w[PHOTOS], camera.normalise_intrinsics(intrinsics, WIDTH, HEIGHT)
    size = (round(LONG_SIDE * HEIGHT / WIDTH), LONG_SIDE)

    encode_s = fastest(lambda: model.encode_views(views), repeats=2)
    encoding = model.encode_views(views)
    result = {
        "photos": PHOTOS, "photo_size": [HEIGHT, WIDTH], "query_size": list(size), "k_contexts": model.config.contexts,
        "threads": torch.get_num_threads(), "model": args.model,
        "encode_100_photos_s": round(encode_s, 3),
        "query_ms_1_sample": round(1000 * fastest(lambda: model.sample_views(encoding, query, 1, 0, query_intrinsics, size)), 1),
        "query_ms_4_samples": round(1000 * fastest(lambda: model.sample_views(encoding, query, 4, 0, query_intrinsics, size)), 1),
        "predict_ms_5_photos_1_sample": round(1000 * fastest(
            lambda: model.predict(views[:5], query, 1, 0, query_intrinsics, size)), 1),
        "plane_sweep_ms": round(1000 * fastest(lambda: plane_sweep(views, query, query_intrinsics, size)), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
