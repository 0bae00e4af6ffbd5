"""A picture of photo-world captures: per row one capture's photos, the first photo's depth and sparse points.

    python benchmarks/photo_world_grid.py [--seeds 0-7] [--size 128] [--out docs/photo-world.png]

Each row: five of the capture's photos (every fifth), the depth map of the first (near bright, far
dark, on a log scale) and the capture's sparse points projected into it; the label says the
capture's setting, layout, size, field of view and point count.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from gqn import camera  # noqa: E402
from gqn.scenes import photo_world  # noqa: E402

GAP = 4
LABEL = 14


def depth_picture(depth: np.ndarray) -> np.ndarray:
    log = np.log(depth)
    t = (log.max() - log) / max(log.max() - log.min(), 1e-9)
    return np.repeat((255 * t).astype(np.uint8)[..., None], 3, -1)


def points_picture(views, index: int) -> np.ndarray:
    height, width = views.size
    out = np.full((height, width, 3), 255, np.uint8)
    pixels, z = camera.project(views.points, views.c2w[index], views.intrinsics[index])
    order = np.argsort(-z)  # far first, so near points cover them
    for (u, v), colour, depth in zip(pixels[order], views.point_colors[order], z[order]):
        if depth > 0 and 0 <= u < width and 0 <= v < height:
            out[int(v), int(u)] = colour
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-7", help="first-last capture seeds")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--views", type=int, default=30)
    parser.add_argument("--out", default="docs/photo-world.png")
    args = parser.parse_args()
    first, last = (int(s) for s in args.seeds.split("-"))
    rows = []
    for seed in range(first, last + 1):
        capture = photo_world.render_capture(seed, views=args.views, size=args.size)
        views = capture.views
        height, width = views.size
        tiles = [views.images[i] for i in range(0, 25, 5)] + [depth_picture(capture.depth[0]), points_picture(views, 0)]
        cell = args.size + GAP
        row = np.full((args.size + LABEL, cell * len(tiles), 3), 255, np.uint8)
        for j, tile in enumerate(tiles):
            top, left = LABEL + (args.size - height) // 2, j * cell + (args.size - width) // 2
            row[top:top + height, left:left + width] = tile
        meta = views.meta
        fov = np.rad2deg(2 * np.arctan(0.5 * max(height, width) / views.intrinsics[0, 0]))
        text = (f"seed {seed}: {meta['setting']}, {meta['layout']}, {width}x{height}, {fov:.0f} deg, "
                f"{len(views)} photos, {len(views.points)} points, depth {meta['near']:.2f}-{meta['far']:.1f} m")
        picture = Image.fromarray(row)
        ImageDraw.Draw(picture).text((2, 1), text, fill=(0, 0, 0))
        rows.append(np.asarray(picture))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows)).save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
