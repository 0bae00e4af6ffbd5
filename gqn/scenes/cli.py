"""`gqn scenes`: generate a procedural dataset, or `gqn scenes convert` gqn-datasets TFRecord files.

    gqn scenes --kind shepard-metzler-7 --scenes 10000 --views 15 --size 64 --seed 0 --out data/sm7
    gqn scenes convert shepard_metzler_7_parts/train/*.tfrecord --out data/sm7-deepmind [--skip-bad]

Both write the same memory-mapped dataset folder (gqn.data.dataset), atomically; running a
killed generation again with the same arguments continues where it stopped.
"""

from __future__ import annotations

import argparse

from gqn.errors import GQNError
from gqn.progress import report
from gqn.scenes.kinds import DEFAULT_VIEWS, KINDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("generate", "convert"), default="generate",
                        help="generate (the default) a procedural dataset, or convert TFRecord FILES")
    parser.add_argument("files", nargs="*", metavar="FILES", help="convert: gqn-datasets .tfrecord files")
    parser.add_argument("--out", required=True, help="dataset folder to create (written as OUT.partial, then renamed)")
    parser.add_argument("--json", action="store_true", help="print JSON lines (progress, then the result)")
    generate = parser.add_argument_group("generate")
    generate.add_argument("--kind", choices=KINDS, help="scene kind")
    generate.add_argument("--scenes", type=int, default=1000, help="number of scenes (default 1000)")
    generate.add_argument("--views", type=int, help="views per scene (default: 15 Shepard-Metzler, 10 rooms)")
    generate.add_argument("--size", type=int, default=64, help="image side in pixels, 32-128 typical (default 64)")
    generate.add_argument("--seed", type=int, default=0, help="scene i uses seed * 1000003 + i (default 0)")
    convert = parser.add_argument_group("convert")
    convert.add_argument("--skip-bad", action="store_true",
                         help="leave out unreadable records (CRC mismatch, cut off, bad JPEG) and list them")


def run(args: argparse.Namespace) -> int:
    if args.action == "convert":
        from gqn.data.tfrecord import convert

        if not args.files:
            raise GQNError("gqn scenes convert needs one or more TFRecord FILES")
        result = convert(args.files, args.out, skip_bad=args.skip_bad, as_json=args.json)
    else:
        from gqn.data.dataset import write_dataset

        if args.files:
            raise GQNError(f"unexpected arguments {args.files}; did you mean `gqn scenes convert ...`?")
        if args.kind is None:
            raise GQNError(f"--kind is required to generate scenes; choose one of {', '.join(KINDS)}")
        views = args.views or DEFAULT_VIEWS[args.kind]
        result = write_dataset(args.out, args.kind, args.scenes, views, args.size, args.seed, as_json=args.json)
    report({"event": "result", **result} if args.json else result, args.json)
    return 0
