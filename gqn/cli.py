"""`gqn` command line: one sub-command per module, imported only when it runs.

Each command module defines `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from gqn.errors import GQNError

COMMANDS = {
    "scenes": ("gqn.scenes.cli", "generate procedural scene datasets, or convert gqn-datasets TFRecords"),
    "train": ("gqn.train", "train a model on a dataset (also under torchrun for many processes)"),
    "evaluate": ("gqn.evaluate", "PSNR/SSIM of prior samples on held-out scenes against baselines"),
    "predict": ("gqn.predict", "render imagined views of a scene from given or orbiting cameras"),
    "poses": ("gqn.data.poses", "estimate camera poses for a folder of photos (COLMAP SfM)"),
    "fit": ("gqn.fit", "fine-tune a model to the views of one scene"),
    "info": ("gqn.data.info", "say what a path holds: format, views, skipped frames"),
    "next-view": ("gqn.nextview", "rank candidate cameras by the model's doubt: where to take the next photo"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gqn", description="Generative Query Network toolkit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module).add_arguments(sub_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except GQNError as error:
        if getattr(args, "json", False):
            print(json.dumps({"event": "error", "error": str(error)}), flush=True)
        print(f"gqn {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gqn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
