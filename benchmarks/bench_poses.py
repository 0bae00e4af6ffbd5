"""Pose estimation speed and accuracy: `gqn poses` on rendered photos whose true cameras are known.

    python benchmarks/bench_poses.py [--photos 50] [--width 1920 --height 1080] [--max-size 480] [--max-features N]

Renders a textured box scene (gqn.data.photo_scene) to JPEGs, runs the same code as `gqn poses`
and prints one JSON object: seconds (pose estimation only), registered_fraction, and rotation and
position errors after a similarity alignment to the truth. Goal: 50 photos in <= 60 s, >= 95 %
registered.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from PIL import Image

from gqn import camera, load_views
from gqn.data.normalize import alignment_errors
from gqn.data.photo_scene import default_cameras, make_scene, render
from gqn.data.poses import estimate_poses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--max-size", type=int, default=480, help="longest side for SIFT (gqn poses --max-size)")
    parser.add_argument("--arc", type=float, default=200.0, help="degrees of the arc the cameras stand on")
    parser.add_argument("--max-features", type=int, default=None, help="gqn poses --max-features")
    parser.add_argument("--sequential", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-poses-") as tmp:
        photos = Path(tmp) / "photos"
        photos.mkdir()
        start = time.perf_counter()
        scene = make_scene(seed=0)
        c2w = default_cameras(args.photos, seed=0, arc_deg=args.arc)
        intrinsics = camera.intrinsics_from_fov(args.width, args.height, 60.0)
        for i, pose in enumerate(c2w):
            Image.fromarray(render(scene, pose, intrinsics, args.width, args.height)).save(
                photos / f"photo_{i:03d}.jpg", quality=92)
        render_seconds = time.perf_counter() - start

        result = estimate_poses(photos, Path(tmp) / "posed", sequential=args.sequential, max_size=args.max_size,
                                max_features=args.max_features)
        views = load_views(Path(tmp) / "posed", max_size=64)
        index = [int(Path(name).stem.split("_")[1]) for name in views.names]
        errors = alignment_errors(views.c2w, c2w[index])

    print(json.dumps({
        "benchmark": "poses", "photos": args.photos, "photo_size": [args.width, args.height],
        "max_size": args.max_size, "max_features": args.max_features, "matching": "sequential" if args.sequential else "exhaustive",
        "seconds": result["seconds"], "registered_fraction": result["registered_fraction"],
        **{k: round(v, 4) for k, v in errors.items()}, "points": result["points"], "stage_seconds": result["stage_seconds"],
        "render_seconds": round(render_seconds, 1), "cpus": os.cpu_count(),
        "goal": {"seconds": 60, "registered_fraction": 0.95},
    }))


if __name__ == "__main__":
    main()
