"""`gqn scenes`: generate a procedural dataset, write one photo-world capture, or convert TFRecord files.

    gqn scenes --kind shepard-metzler-7 --scenes 10000 --views 15 --size 64 --seed 0 --out data/sm7
    gqn scenes --kind photo-world --scenes 1000 --views 24 --size 128 --out data/photo   (square images)
    gqn scenes capture --seed 3 --views 40 --size 128 --aspect portrait --out captures/3   (COLMAP + PNGs)
    gqn scenes convert shepard_metzler_7_parts/train/*.tfrecord --out data/sm7-deepmind [--skip-bad]

Both write the same memory-mapped dataset folder (gqn.data.dataset), atomically; running a
killed generation again with the same arguments continues where it stopped.
"""

from __future__ import annotations

import argparse

from gqn.errors import GQNError
from gqn.progress import report
from gqn.scenes import photo_world
from gqn.scenes.kinds import DEFAULT_VIEWS, KINDS

PHOTO_WORLD = photo_world.KIND
PHOTO_WORLD_VIEWS = 24


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("generate", "capture", "convert"), default="generate",
                        help="generate (the default) a procedural dataset, write one photo-world capture as a "
                             "folder of PNGs and a COLMAP model, or convert TFRecord FILES")
    parser.add_argument("files", nargs="*", metavar="FILES", help="convert: gqn-datasets .tfrecord files")
    parser.add_argument("--out", required=True, help="dataset folder to create (written as OUT.partial, then renamed)")
    parser.add_argument("--json", action="store_true", help="print JSON lines (progress, then the result)")
    generate = parser.add_argument_group("generate")
    generate.add_argument("--kind", choices=(*KINDS, PHOTO_WORLD), help="scene kind")
    generate.add_argument("--scenes", type=int, default=1000, help="number of scenes (default 1000)")
    generate.add_argument("--views", type=int, help="views per scene (default: 15 Shepard-Metzler, 10 rooms, "
                                                     "24 photo-world; capture: random 20-100)")
    generate.add_argument("--size", type=int, help="image side in pixels, 32-128 typical (default 64); "
                                                   "capture: the long side (default 128)")
    generate.add_argument("--seed", type=int, default=0, help="scene i uses seed * 1000003 + i (default 0)")
    capture = parser.add_argument_group("capture (a photo-world capture; random where not given)")
    capture.add_argument("--aspect", choices=tuple(photo_world.ASPECTS), help="image aspect")
    capture.add_argument("--fov", type=float, help="field of view across the long side, degrees")
    capture.add_argument("--layout", choices=photo_world.LAYOUTS, help="inward orbit or forward-facing sweep")
    capture.add_argument("--setting", choices=photo_world.SETTINGS, help="objects on a table, on a floor, or outdoors")
    convert = parser.add_argument_group("convert")
    convert.add_argument("--skip-bad", action="store_true",
                         help="leave out unreadable records (CRC mismatch, cut off, bad JPEG) and list them")


def run(args: argparse.Namespace) -> int:
    if args.action == "convert":
        from gqn.data.tfrecord import convert

        if not args.files:
            raise GQNError("gqn scenes convert needs one or more TFRecord FILES")
        result = convert(args.files, args.out, skip_bad=args.skip_bad, as_json=args.json)
    elif args.action == "capture":
        capture = photo_world.render_capture(args.seed, args.views, args.size or 128, args.layout, args.aspect, args.fov,
                                             args.setting)
        views = capture.views
        result = {"out": str(photo_world.write_capture(capture, args.out)), "views": len(views),
                  "height": views.size[0], "width": views.size[1], "points": len(views.points), **views.meta}
    else:
        from gqn.data.dataset import write_dataset

        if args.files:
            raise GQNError(f"unexpected arguments {args.files}; did you mean `gqn scenes convert ...`?")
        if args.kind is None:
            raise GQNError(f"--kind is required to generate scenes; choose one of {', '.join(KINDS)}")
        if args.kind == PHOTO_WORLD:
            result = photo_world.write_dataset(args.out, args.scenes, args.views or PHOTO_WORLD_VIEWS, args.size or 64,
                                               args.seed, as_json=args.json)
        else:
            views = args.views or DEFAULT_VIEWS[args.kind]
            result = write_dataset(args.out, args.kind, args.scenes, views, args.size or 64, args.seed, as_json=args.json)
    report({"event": "result", **result} if args.json else result, args.json)
    return 0
