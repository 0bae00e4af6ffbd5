"""Renderer speed: procedural views per second at 64×64, rendering alone and with scene building.

    python benchmarks/bench_render.py [--size 64] [--scenes 256] [--seconds 2]

Prints one JSON object. Goals (issue 2): >= 20,000 Shepard-Metzler and >= 5,000 rooms views/s on
2 cores. `*_views_per_s` time the renderer on prebuilt scenes (what the goal measures);
`generate_views_per_s` adds building the scenes and cameras in Python, as `gqn scenes` does.
`*_per_cpu_s` divide by the process's CPU time instead of wall-clock time (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from gqn.scenes import DEFAULT_VIEWS, KINDS, render_scenes  # noqa: E402
from gqn.scenes.kinds import scene_and_cameras  # noqa: E402


def rate(work, units: int, seconds: float) -> tuple[float, float]:
    """(units per wall-clock second, units per CPU-second of this process) of work(), repeated >= `seconds`.

    On a shared machine the wall-clock rate depends on what else runs; the CPU-second rate much less.
    """
    work()  # warm-up: numba compiles (or loads its cache) on the first call
    runs, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - start) < seconds or runs == 0:
        work()
        runs += 1
    return units * runs / elapsed, units * runs / (time.process_time() - cpu_start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--scenes", type=int, default=256, help="scenes per batched render call")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()

    result: dict[str, object] = {"size": args.size, "threads": numba.get_num_threads()}
    for kind in KINDS:
        views = DEFAULT_VIEWS[kind]

        def build():
            return [scene_and_cameras(kind, seed, views, args.size) for seed in range(args.scenes)]

        made = build()
        scenes = [m[0] for m in made]
        c2w, intrinsics = np.stack([m[1] for m in made]), np.stack([m[2] for m in made])
        for scene in scenes:
            scene.shaded  # shading is cached per scene; time visibility, as a training loop re-rendering would

        def render():
            render_scenes(scenes, c2w, intrinsics, args.size)

        def generate():
            fresh = build()
            render_scenes([m[0] for m in fresh], np.stack([m[1] for m in fresh]), np.stack([m[2] for m in fresh]),
                          args.size)

        name = kind.replace("-", "_")
        wall, cpu = rate(render, args.scenes * views, args.seconds)
        result[f"{name}_views_per_s"], result[f"{name}_views_per_cpu_s"] = round(wall), round(cpu)
        wall, cpu = rate(generate, args.scenes * views, args.seconds)
        result[f"{name}_generate_views_per_s"], result[f"{name}_generate_views_per_cpu_s"] = round(wall), round(cpu)
        result[f"{name}_triangles_per_scene"] = round(float(np.mean([len(s.triangles) for s in scenes])), 1)
        one = scenes[0]
        wall, _ = rate(lambda: one.render(c2w[0, :1], intrinsics[0, :1], args.size), 1, args.seconds / 4)
        result[f"{name}_single_view_ms"] = round(1e3 / wall, 3)
    result["shepard_metzler_views_per_s"] = min(result["shepard_metzler_5_views_per_s"],
                                                result["shepard_metzler_7_views_per_s"])
    result["rooms_views_per_s"] = min(result["rooms_ring_views_per_s"], result["rooms_free_views_per_s"])
    result["goals"] = {"shepard_metzler_views_per_s": 20000, "rooms_views_per_s": 5000}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
