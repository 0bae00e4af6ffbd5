"""Photo-world speed: textured views per second, whole captures per second, sparse-depth ms per view.

    python benchmarks/bench_photo_world.py [--size 128] [--worlds 8] [--views 64] [--seconds 3]

Prints one JSON object. Goal (issue 11): >= 2,000 textured 128-px views/s on 2 cores.
`render_views_per_s` times the ray caster on prebuilt worlds, size×size views (what the goal
measures); `capture_views_per_s` adds making the world, metering exposure and drawing sparse points
(render_capture at random aspect, long side `size`). `*_per_cpu_s` divide by this process's CPU time
instead of wall-clock time: on a shared machine wall-clock rates depend on what else runs, so compare
the CPU rate to "goal / cores". `sparse_depth_ms` is one 128-px query with k = 4, torch on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numba
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from bench_render import rate  # noqa: E402  (a benchmark's own folder is on the path when it runs)
from gqn.baselines.sparse_depth import sparse_depth_render  # noqa: E402
from gqn.scenes import photo_world  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--worlds", type=int, default=8)
    parser.add_argument("--views", type=int, default=64, help="views per world and render call")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    size = args.size

    captures = [photo_world.render_capture(seed, views=args.views, size=size, aspect="square", points=0)
                for seed in range(args.worlds)]

    def render_all():
        for capture in captures:
            capture.world.render(capture.views.c2w, capture.views.intrinsics, size, size)

    wall, cpu = rate(render_all, args.worlds * args.views, args.seconds)
    seeds = iter(range(1000, 10**6))
    capture_wall, capture_cpu = rate(lambda: photo_world.render_capture(next(seeds), views=args.views, size=size),
                                     args.views, args.seconds)

    torch.set_num_threads(1)
    capture = photo_world.render_capture(3, views=40, size=size)
    views = capture.views[1:]
    query = (capture.views.c2w[0], capture.views.normalised_intrinsics()[0], capture.views.size)
    sparse_wall, _ = rate(lambda: sparse_depth_render(views, *query), 1, args.seconds)
    print(json.dumps({
        "size": size, "threads": numba.get_num_threads(), "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "render_views_per_s": round(wall, 1), "render_views_per_cpu_s": round(cpu, 1),
        "capture_views_per_s": round(capture_wall, 1), "capture_views_per_cpu_s": round(capture_cpu, 1),
        "sparse_depth_ms": round(1000 / sparse_wall, 1), "sparse_depth_size": list(capture.views.size),
    }, indent=2))


if __name__ == "__main__":
    main()
