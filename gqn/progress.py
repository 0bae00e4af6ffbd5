"""Progress for long commands: a tqdm bar for people, JSON lines for programs (`--json`).

With --json every line on stdout is one JSON object; the last one is the command's result.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tqdm import tqdm


class Progress:
    def __init__(self, total: int | None, desc: str, as_json: bool, initial: int = 0) -> None:
        self.as_json = as_json
        self.desc = desc
        self.bar = None if as_json else tqdm(total=total, initial=initial, desc=desc, file=sys.stderr,
                                             dynamic_ncols=True)
        self.total = total
        self.done = initial

    def update(self, n: int = 1, **fields: Any) -> None:
        self.done += n
        if self.as_json:
            emit({"event": "progress", "stage": self.desc, "done": self.done, "total": self.total, **fields})
        else:
            if fields:
                self.bar.set_postfix({k: _short(v) for k, v in fields.items()}, refresh=False)
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _short(value: Any) -> Any:
    return f"{value:.4g}" if isinstance(value, float) else value


def emit(obj: dict[str, Any]) -> None:
    """One JSON line on stdout, flushed at once (a parent process reads it live)."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def report(result: dict[str, Any], as_json: bool) -> None:
    """The command's final result: one JSON object, or aligned `key: value` lines for people."""
    if as_json:
        emit(result)
        return
    width = max((len(k) for k in result), default=0)
    for key, value in result.items():
        print(f"{key:<{width}}  {_short(value)}")
