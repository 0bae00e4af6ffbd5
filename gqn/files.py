"""The small files every format starts from (JSON, short text, .npy), read so that a broken one is a
GQNError naming it, whatever is wrong: missing, a folder, not UTF-8, cut short, nested too deep, or a
.npy header that does not parse. Readers then check the values they take from them."""

from __future__ import annotations

import json
import math
import os
import stat
import tokenize
from pathlib import Path
from typing import Any

import numpy as np

from gqn.errors import GQNError

# What np.load and numpy's header parser raise for a broken header: numpy tokenizes and literal-evals it.
NPY_ERRORS = (OSError, ValueError, SyntaxError, tokenize.TokenError, EOFError, OverflowError)


def read_text(path: Path, limit: int = 64 << 20) -> str:
    """A UTF-8 text file of at most `limit` bytes."""
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a folder, or a pipe or device that would block or never end
            raise GQNError(f"{path}: not a regular file")
        size = info.st_size
        if size > limit:
            raise GQNError(f"{path}: {size} bytes; too large for this kind of file (at most {limit})")
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise GQNError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise GQNError(f"{path}: cannot be read ({error.strerror or error})") from None


def read_json(path: Path) -> Any:
    """A JSON document; NaN and Infinity are accepted here and left to the caller's checks."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise GQNError(f"{path}: not a readable JSON file ({error})") from None
    except RecursionError:
        raise GQNError(f"{path}: not a readable JSON file (nested too deeply)") from None


def read_json_object(path: Path) -> dict[str, Any]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise GQNError(f"{path}: expected a JSON object ({{...}}), found {type(data).__name__}")
    return data


def load_npy(path: Path) -> np.ndarray:
    """A whole .npy array (never a pickle); its header is checked against the file's length first, so a
    header claiming more data than the file holds costs no memory."""
    shape, _, dtype, offset = npy_header(path)
    claimed = math.prod(shape) * dtype.itemsize
    held = Path(path).stat().st_size - offset
    if claimed > held:
        raise GQNError(f"{path}: cut short or corrupt: its header claims {claimed} bytes of {dtype} {list(shape)}, "
                       f"the file holds {held}")
    try:
        return np.load(path, allow_pickle=False)
    except NPY_ERRORS as error:
        raise GQNError(f"{path}: not a readable .npy file ({type(error).__name__}: {error})") from None


def npy_header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran order, dtype, data offset) from a .npy header, without reading the data. The
    header's own length field is checked against the file first (numpy would allocate what it says)."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            version = fmt.read_magic(f)
            field = 2 if version == (1, 0) else 4
            length = int.from_bytes(f.read(field), "little")
            if f.tell() + length > os.fstat(f.fileno()).st_size:
                raise ValueError(f"the header says it is {length} bytes long, more than the file holds")
            f.seek(-field, os.SEEK_CUR)
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            if any(side < 0 for side in shape):
                raise ValueError(f"shape {shape} has a negative side")
            return tuple(shape), fortran, dtype, f.tell()
    except NPY_ERRORS as error:
        raise GQNError(f"{path}: not a readable .npy file: its header is corrupt or cut off ({error})") from None
