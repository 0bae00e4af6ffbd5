"""Seeded mutators: turn a valid input folder into a broken one, reproducibly from one integer.

`mutate(folder, rng)` picks a file of the folder and one mutation that fits it: byte-level ones for
any file (truncate, flip bits, overwrite an integer field, insert, delete, duplicate), structure-
aware ones that keep a file parseable enough to reach deeper code (a JSON value replaced by NaN, a
huge or negative number, the wrong type, a path trick or a list nested 100,000 deep; a PNG/JPEG
header claiming 65535×65535; a .npy header with another length, shape or dtype; a TFRecord length
with a valid CRC; a NaN weight or a lying safetensors header), and file-system ones (deleted,
empty, a directory, a named pipe, a symlink out of the folder or to itself). Each returns a line saying what it
did, so a failing case can be rebuilt from (format, seed) or read from its description.
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
import zlib
from pathlib import Path
from typing import Any, Callable

DEEP = "\0deep\0"  # stands for a list nested 100,000 deep (json.dumps could not write one)
DEEP_TEXT = "[" * 100_000 + "]" * 100_000

INTERESTING_INTS = [0, 1, -1, 2, 255, 256, 300, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**40,
                    2**63 - 1, 2**64 - 1, -2**31, -2**63]
INTERESTING_JSON: list[Any] = [
    None, True, False, "", "abc", 0, -1, 0.3, 32.0, 300, 20000, 1e308, -1e308, 2**64, -2**63,
    float("nan"), float("inf"), -float("inf"), [], {}, [1, 2, 3], {"a": 1}, "x" * 300,
    "../../../../etc/passwd", "/etc", "nul\0byte", DEEP, [[1, 2, 3, 4]] * 4,
]
INTERESTING_TOKENS = [b"0", b"-1", b"0.3", b"300", b"1e400", b"nan", b"inf", b"-inf", str(2**64).encode(),
                      b"abc", b"x" * 300, b"../../../../etc/passwd", b"/etc", b"", b"9" * 400, b"\xff\xfe",
                      b"OPENCV_FISHEYE", b"-2147483649"]
# Keys the readers look for, so that added keys reach the code that reads them.
KNOWN_KEYS = ["file_path", "transform_matrix", "fl_x", "fl_y", "cx", "cy", "w", "h", "camera_angle_x",
              "camera_angle_y", "k1", "k2", "p1", "frames", "unregistered", "scenes", "views", "size", "complete",
              "format", "kind", "seed", "image_size", "representation", "tower_channels", "r_channels", "r_scale",
              "h_channels", "z_channels", "steps", "kernel", "canvas_channels", "bf16", "shared_core",
              "epipolar_samples", "epipolar_near", "epipolar_far", "trained_on", "step", "region"]


# --- bytes -> bytes ------------------------------------------------------------------------------------

def _position(rng: random.Random, data: bytes) -> int:
    """Mostly near the start (headers), sometimes anywhere."""
    if not data:
        return 0
    return rng.randrange(min(len(data), 64)) if rng.random() < 0.4 else rng.randrange(len(data))


def truncate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    at = _position(rng, data)
    return data[:at], f"truncated to {at} of {len(data)} bytes"


def flip_bits(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    out = bytearray(data)
    where = []
    for _ in range(rng.randint(1, 8)):
        if out:
            i = _position(rng, out)
            out[i] ^= 1 << rng.randrange(8)
            where.append(i)
    return bytes(out), f"flipped bits at {where}"


def overwrite_int(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    width = rng.choice([1, 2, 4, 8])
    order = rng.choice("<>")
    value = rng.choice(INTERESTING_INTS) % (1 << 8 * width)
    at = _position(rng, data)
    packed = struct.pack(order + {1: "B", 2: "H", 4: "I", 8: "Q"}[width], value)
    return data[:at] + packed + data[at + width:], f"wrote {value} as {width}-byte {order} int at {at}"


def insert_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    at = _position(rng, data)
    chunk = rng.randbytes(rng.choice([1, 4, 16, 512]))
    return data[:at] + chunk + data[at:], f"inserted {len(chunk)} random bytes at {at}"


def delete_range(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    at = _position(rng, data)
    size = rng.choice([1, 4, 16, 256])
    return data[:at] + data[at + size:], f"deleted {size} bytes at {at}"


def duplicate_range(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    if not data:
        return data, "nothing to duplicate"
    start = rng.randrange(len(data))
    chunk = data[start:start + rng.choice([4, 64, 1024])]
    at = rng.randrange(len(data))
    return data[:at] + chunk + data[at:], f"copied {len(chunk)} bytes from {start} to {at}"


BYTE_MUTATORS = [truncate, flip_bits, overwrite_int, insert_bytes, delete_range, duplicate_range]


def byte_mutation(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    return rng.choice(BYTE_MUTATORS)(rng, data)


# --- images: headers that lie about the size (checksums kept valid) -------------------------------------

HUGE_SIZES = [(65535, 65535), (0, 0), (1, 2**31 - 1), (2**31 - 1, 2**31 - 1), (100_000, 100_000), (24, 0),
              (30_000, 30_000)]


def png_size(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    if data[12:16] != b"IHDR":
        return byte_mutation(rng, data)
    width, height = rng.choice(HUGE_SIZES)
    ihdr = struct.pack(">II", width, height) + data[24:29]
    chunk = b"IHDR" + ihdr
    return data[:12] + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:], f"PNG header says {width}×{height}"


def jpeg_size(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    match = re.search(rb"\xff[\xc0-\xc2]", data)
    if match is None:
        return byte_mutation(rng, data)
    width, height = rng.choice(HUGE_SIZES)
    width, height = min(width, 65535), min(height, 65535)
    at = match.start() + 5
    return data[:at] + struct.pack(">HH", height, width) + data[at + 4:], f"JPEG header says {width}×{height}"


# --- .npy: header length, shape, dtype ---------------------------------------------------------------------

def npy_header(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    if not data.startswith(b"\x93NUMPY") or len(data) < 10:
        return byte_mutation(rng, data)
    (length,) = struct.unpack("<H", data[8:10])
    header, rest = data[10:10 + length].decode("latin1"), data[10 + length:]
    choice = rng.randrange(4)
    if choice == 0:
        value = rng.choice([0, 1, 10, length - 1, length + 1, 65535])
        return data[:8] + struct.pack("<H", value) + data[10:], f"npy header length field {length} -> {value}"
    if choice == 1:
        shape = rng.choice(["(2**40,)", "(-1, 17)", "()", "(3,)", "(1, 17)", "(0, 17)", "(4, 4, 4, 4, 4, 4)",
                            "(1099511627776, 17)", "(2, 4, 24, 24, 3)", "(2, 4, 4, 4)"])
        header = re.sub(r"'shape': \([^)]*\)", f"'shape': {shape}", header)
        what = f"shape {shape}"
    elif choice == 2:
        descr = rng.choice(["'|O'", "'<i8'", "'>f8'", "'<f2'", "'|u1'", "'<c16'", "'|b1'", "'<U5'", "'V8'"])
        header = re.sub(r"'descr': '[^']*'", f"'descr': {descr}", header)
        what = f"dtype {descr}"
    else:
        header, what = header.replace("False", "True"), "fortran order"
    encoded = header.encode("latin1")
    return data[:8] + struct.pack("<H", len(encoded)) + encoded + rest, f"npy header {what}"


def npy_nan(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """A NaN or infinite float64 somewhere in the array data (c2w, intrinsics, poses_bounds)."""
    if not data.startswith(b"\x93NUMPY") or b"<f8" not in data[:128]:
        return byte_mutation(rng, data)
    (length,) = struct.unpack("<H", data[8:10])
    start = 10 + length
    count = (len(data) - start) // 8
    if count <= 0:
        return byte_mutation(rng, data)
    i = rng.randrange(count)
    value = rng.choice([float("nan"), float("inf"), -float("inf"), 1e308, 0.0, -1.0, 0.3])
    at = start + 8 * i
    return data[:at] + struct.pack("<d", value) + data[at + 8:], f"npy float {i} = {value}"


# --- TFRecord: framing with valid CRCs, so the parser behind it is reached ------------------------------

def record_spans(data: bytes) -> list[tuple[int, int]]:
    """(offset, data length) of each whole record."""
    out, pos = [], 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        if pos + 16 + length > len(data):
            break
        out.append((pos, length))
        pos += 16 + length
    return out


def tfrecord_length(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    from gqn.data.tfrecord import masked_crc32c
    records = record_spans(data)
    if not records:
        return byte_mutation(rng, data)
    index = rng.randrange(len(records))
    pos, length = records[index]
    value = rng.choice([2**64 - 1, 2**40, 2**32, 2**63, 0, 1, length - 1, length + 1, len(data)])
    header = struct.pack("<Q", value)
    return (data[:pos] + header + struct.pack("<I", masked_crc32c(header)) + data[pos + 12:],
            f"record {index} length {length} -> {value} (length CRC valid)")


def tfrecord_data(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    from gqn.data.tfrecord import masked_crc32c
    records = record_spans(data)
    if not records:
        return byte_mutation(rng, data)
    index = rng.randrange(len(records))
    pos, length = records[index]
    payload = data[pos + 12:pos + 12 + length]
    mutated, what = (jpeg_size if rng.random() < 0.2 else byte_mutation)(rng, payload)
    header = struct.pack("<Q", len(mutated))
    framed = header + struct.pack("<I", masked_crc32c(header)) + mutated + struct.pack("<I", masked_crc32c(mutated))
    return data[:pos] + framed + data[pos + 16 + length:], f"record {index} data: {what} (CRCs valid)"


# --- safetensors: NaN weights, headers that lie -------------------------------------------------------------

def _safetensors(data: bytes) -> tuple[dict, int] | None:
    if len(data) < 8:
        return None
    (size,) = struct.unpack("<Q", data[:8])
    try:
        return json.loads(data[8:8 + size]), 8 + size
    except ValueError:
        return None


def safetensors_nan(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    parsed = _safetensors(data)
    if parsed is None:
        return byte_mutation(rng, data)
    header, start = parsed
    names = sorted(k for k, v in header.items() if k != "__metadata__" and v.get("dtype") == "F32")
    if not names:
        return byte_mutation(rng, data)
    name = rng.choice(names)
    begin, end = header[name]["data_offsets"]
    if end <= begin:
        return byte_mutation(rng, data)
    at = start + begin + 4 * rng.randrange((end - begin) // 4)
    value = rng.choice([float("nan"), float("inf"), -float("inf")])
    return data[:at] + struct.pack("<f", value) + data[at + 4:], f"weight {name} holds {value}"


def safetensors_header(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    parsed = _safetensors(data)
    if parsed is None:
        return byte_mutation(rng, data)
    header, start = parsed
    name = rng.choice(sorted(k for k in header if k != "__metadata__"))
    field = rng.choice(["dtype", "shape", "data_offsets"])
    value = {"dtype": rng.choice(["F64", "I64", "BOOL", "U8", "F16", "BF16", "XX"]),
             "shape": rng.choice([[], [0], [2**40], [-1], [3, 3, 3, 3, 3, 3, 3, 3], [1]]),
             "data_offsets": rng.choice([[0, 2**40], [5, 3], [0, 0], [-1, 4]])}[field]
    header[name][field] = value
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + data[start:], f"safetensors {name}.{field} = {value}"


# --- JSON: values replaced, deleted, added ---------------------------------------------------------------

def _nodes(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _nodes(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value[:6]):  # a few frames are enough
            out += _nodes(item, path + (i,))
    return out


def _dump(value: Any) -> bytes:
    return json.dumps(value).replace(json.dumps(DEEP), DEEP_TEXT).encode()


def json_mutation(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):  # already broken (maybe by an earlier mutation): bytes then
        return byte_mutation(rng, data)
    path = rng.choice(_nodes(document))
    action = rng.choice(["replace", "replace", "delete", "add"])
    if not path:
        return _dump(rng.choice(INTERESTING_JSON)), "whole document replaced"
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    value = rng.choice(INTERESTING_JSON)
    if action == "replace":
        parent[path[-1]] = value
        what = f"{list(path)} = {value!r:.40}"
    elif action == "delete":
        del parent[path[-1]]
        what = f"{list(path)} deleted"
    else:
        target = parent if isinstance(parent, dict) else document
        if not isinstance(target, dict):
            return byte_mutation(rng, data)
        key = rng.choice(KNOWN_KEYS)
        target[key] = value
        what = f"added {key} = {value!r:.40}"
    return _dump(document), what


# --- text: tokens and lines ---------------------------------------------------------------------------------

def text_mutation(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    lines = data.split(b"\n")
    choice = rng.randrange(4)
    data_lines = [i for i, line in enumerate(lines) if line.strip() and not line.startswith(b"#")] or [0]
    i = rng.choice(data_lines)
    if choice == 0 or choice == 1:
        tokens = lines[i].split(b" ")
        j = rng.randrange(len(tokens))
        token = rng.choice(INTERESTING_TOKENS)
        tokens[j] = token
        lines[i] = b" ".join(tokens)
        what = f"line {i + 1} token {j} = {token[:20]!r}"
    elif choice == 2:
        del lines[i]
        what = f"line {i + 1} deleted"
    else:
        lines.insert(i, b" ".join(rng.choice(INTERESTING_TOKENS) for _ in range(rng.randint(1, 12))))
        what = f"line of junk before line {i + 1}"
    return b"\n".join(lines), what


LATEST = [b"\xff\xfe\x00\x81", b"/etc", b"../../../..", b"checkpoints/../../model", b"", b"checkpoints", b"..",
          b"checkpoints/step-00000010/model.safetensors", b"checkpoints/step-99999999", b"/", b"\0",
          b"checkpoints/step-00000010\0x", b"x" * 300]


def latest_mutation(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    value = rng.choice(LATEST)
    return value, f"latest = {value[:30]!r}"


# --- files ----------------------------------------------------------------------------------------------------

def by_kind(path: Path) -> list[Callable[[random.Random, bytes], tuple[bytes, str]]]:
    """The structure-aware mutators for a file (byte-level ones fit every file)."""
    name, suffix = path.name, path.suffix.lower()
    if name == "latest":
        return [latest_mutation, text_mutation]
    return {".json": [json_mutation], ".png": [png_size], ".jpg": [jpeg_size], ".npy": [npy_header, npy_nan],
            ".tfrecord": [tfrecord_length, tfrecord_data], ".safetensors": [safetensors_nan, safetensors_header],
            ".txt": [text_mutation], ".md": [text_mutation]}.get(suffix, [])


def file_system_mutation(rng: random.Random, path: Path) -> str:
    choice = rng.randrange(7)
    if choice == 0:
        path.unlink()
        return "deleted"
    if choice == 1:
        path.write_bytes(b"")
        return "emptied"
    path.unlink()
    if choice == 2:
        path.mkdir()
        return "replaced by a folder"
    if choice == 3:
        path.symlink_to("/etc/passwd")
        return "symlink to /etc/passwd"
    if choice == 4:
        path.symlink_to(path.name)
        return "symlink to itself"
    if choice == 5:
        os.mkfifo(path)  # opening it for reading blocks until someone writes: a hang if read blindly
        return "replaced by a named pipe"
    path.symlink_to("/")
    return "symlink to /"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink())


def mutate_file(rng: random.Random, path: Path) -> str:
    roll = rng.random()
    if roll < 0.08:
        return file_system_mutation(rng, path)
    data = path.read_bytes()
    structured = by_kind(path)
    mutator = rng.choice(structured) if structured and roll < 0.6 else byte_mutation
    mutated, what = mutator(rng, data)
    path.write_bytes(mutated)
    return what


def mutate(folder: Path, rng: random.Random) -> list[str]:
    """Mutate 1-3 files of `folder` in place; what was done, one line per mutation."""
    done = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        files = _files(folder)
        if not files:
            break
        weights = [1 if p.suffix.lower() in (".png", ".jpg") else 4 for p in files]
        path = rng.choices(files, weights)[0]
        done.append(f"{path.relative_to(folder)}: {mutate_file(rng, path)}")
    return done


def case_rng(fmt: str, seed: int) -> random.Random:
    return random.Random(f"{fmt}:{seed}")
