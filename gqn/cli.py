"""`gqn` command line: one sub-command per module, imported only when it runs.

Each command module defines `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from gqn.errors import GQNError

COMMANDS = {
    "scenes": ("gqn.scenes.cli", "generate procedural scene datasets or photo-world captures, or convert gqn-datasets TFRecords"),
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
    parser.add_argument("--debug", action="store_true", help="on an unexpected error, print its full traceback")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        # also after the command (`gqn info X --debug`); SUPPRESS keeps a top-level --debug when absent here
        sub_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if name == command:
            importlib.import_module(module).add_arguments(sub_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. A GQNError is one line on stderr and exit code 2; anything else is a bug: one
    line saying so and where its traceback was written (printed too with --debug), exit code 1."""
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    prog, as_json = f"gqn {args.command}", getattr(args, "json", False)
    try:
        return int(importlib.import_module(COMMANDS[args.command][0]).run(args) or 0)
    except GQNError as error:
        return fail(prog, str(error), as_json)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 -- the last line of defence: a bug, reported as one
        return report_bug(prog, error, args.debug, as_json)


def fail(prog: str, text: str, as_json: bool = False, code: int = 2, **fields) -> int:
    """Print an error as one line on stderr (and as a JSON event on stdout with --json)."""
    if as_json:
        print(json.dumps({"event": "error", "error": text, **fields}), flush=True)
    print(f"{prog}: error: {' '.join(text.split())}", file=sys.stderr)
    return code


def report_bug(prog: str, error: BaseException, debug: bool = False, as_json: bool = False) -> int:
    """An exception that is not a GQNError: one line saying it is a bug and where the full traceback
    went (a file in the temp folder); the traceback itself only with --debug."""
    text = "".join(traceback.format_exception(error))
    folder = Path(tempfile.gettempdir()) / "gqn-logs"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{prog.replace(' ', '-')}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    log.write_text(f"{prog} {' '.join(sys.argv[1:])}\n\n{text}")
    if debug:
        print(text, file=sys.stderr, end="")
    summary = f"{type(error).__name__}: {error}"[:300]
    text = f"internal error (a bug in gqn, not in your input): {summary} — the full traceback is in {log}"
    return fail(prog, text + ("" if debug else " (--debug prints it)"), as_json, code=1, bug=True, log=str(log))


if __name__ == "__main__":
    sys.exit(main())
