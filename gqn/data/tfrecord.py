"""DeepMind gqn-datasets TFRecord files, read and written without TensorFlow.

A TFRecord file is a sequence of records framed as
    u64 length | u32 masked CRC32C of the 8 length bytes | data | u32 masked CRC32C of data
(little-endian; masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 mod 2^32). Each record's
data is a tf.train.Example protobuf: Example{features: Features{feature: map<string, Feature>}},
Feature{bytes_list = 1 | float_list = 2 | int64_list = 3}. gqn-datasets store `frames` (one JPEG
per view) and `cameras` (5 floats per view: x, y, z, yaw, pitch -> gqn.camera.gqn_camera_to_c2w).
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit
from PIL import Image

from gqn import camera
from gqn.data.dataset import DatasetWriter
from gqn.data.images import ImageLoadError, decode, open_image
from gqn.data.viewset import DEFAULT_FOV_DEG, ViewSet
from gqn.errors import GQNError
from gqn.progress import Progress

Feature = list[bytes] | np.ndarray  # bytes_list -> list of bytes; float_list -> float32; int64_list -> int64

# --- CRC32C (Castagnoli) -------------------------------------------------------------------------------

def _crc32c_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.int64)
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table[byte] = crc
    return table


_CRC_TABLE = _crc32c_table()


@njit(cache=True)
def _crc32c(data, table):
    # The same byte-at-a-time table loop as in Python, jitted: ~1 GB/s instead of ~5 MB/s.
    crc = 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c(data: bytes) -> int:
    return int(_crc32c(np.frombuffer(data, dtype=np.uint8), _CRC_TABLE))


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# --- record framing ------------------------------------------------------------------------------------

def read_records(path: str | os.PathLike) -> Iterator[tuple[int, bytes | None, str | None]]:
    """(record index, data, None) per good record, (index, None, what is wrong) per bad one.

    A bad data CRC skips just that record; a cut-off record or a corrupt length ends the file
    (nothing after it can be located). A length is trusted only when its CRC matches and it fits in
    what is left of the file, so a corrupt one never asks for more memory than the file's size.
    """
    try:
        f = open(path, "rb")
        size = os.fstat(f.fileno()).st_size
    except OSError as error:
        raise GQNError(f"{path}: cannot be read ({error.strerror or error})") from None
    with f:
        index = 0
        while header := f.read(12):
            if len(header) < 12:
                yield index, None, f"cut off: the file ends {len(header)} bytes into the record header"
                return
            length, length_crc = struct.unpack("<QI", header)
            if masked_crc32c(header[:8]) != length_crc:
                yield index, None, "CRC mismatch in the record length (corrupt file; the rest cannot be read)"
                return
            left = size - f.tell()
            if length + 4 > left:
                yield index, None, (f"cut off: the record says {length} data bytes, the file holds {max(0, left - 4)} "
                                    "more (the rest cannot be read)")
                return
            data = f.read(length)
            footer = f.read(4)
            if len(data) < length or len(footer) < 4:
                yield index, None, f"cut off: the file ends inside the record ({len(data)} of {length} data bytes)"
                return
            if masked_crc32c(data) != struct.unpack("<I", footer)[0]:
                yield index, None, "CRC mismatch in the record data (corrupt record)"
            else:
                yield index, data, None
            index += 1


def write_records(path: str | os.PathLike, records: Iterable[bytes]) -> None:
    with open(path, "wb") as f:
        for data in records:
            length = struct.pack("<Q", len(data))
            f.write(length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data)))


# --- tf.train.Example: just enough of the protobuf wire format -----------------------------------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("protobuf varint runs past the end of the record")
        if shift > 63:
            raise ValueError("protobuf varint longer than 10 bytes")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value & (1 << 64) - 1, pos
        shift += 7


def _fields(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) over buf[start:end]; length-delimited values are (start, end)."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1 or wire == 5:
            size = 8 if wire == 1 else 4
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = (pos, pos + size), pos + size
        else:
            raise ValueError(f"protobuf wire type {wire} is not supported")
        if pos > end:
            raise ValueError("protobuf field runs past the end of its message")
        yield field, wire, value


def _parse_feature(buf: bytes, start: int, end: int) -> Feature:
    for kind, wire, span in _fields(buf, start, end):
        if wire != 2 or kind not in (1, 2, 3):
            raise ValueError(f"unexpected field {kind} (wire type {wire}) in a tf.train.Feature")
        items = list(_fields(buf, *span))
        if kind == 1:  # BytesList
            return [bytes(buf[v[0]:v[1]]) for _, w, v in items if w == 2]
        if kind == 2:  # FloatList: packed (wire 2) or one float per field (wire 5)
            floats = [np.frombuffer(buf[v[0]:v[1]] if w == 2 else v, dtype="<f4") for _, w, v in items if w in (2, 5)]
            return np.concatenate(floats).astype(np.float32) if floats else np.zeros(0, np.float32)
        # Int64List: packed varints (wire 2) or one per field (wire 0); negatives are 64-bit two's complement
        ints = [i for _, w, v in items for i in ([v] if w == 0 else _varints(buf, *v) if w == 2 else [])]
        return np.array([i - (1 << 64) if i >= 1 << 63 else i for i in ints], dtype=np.int64)
    return []


def _varints(buf: bytes, pos: int, end: int) -> Iterator[int]:
    while pos < end:
        value, pos = _varint(buf, pos)
        yield value


def parse_example(data: bytes) -> dict[str, Feature]:
    """tf.train.Example bytes -> {name: list of bytes | float32 array | int64 array}."""
    features: dict[str, Feature] = {}
    for field, wire, value in _fields(data, 0, len(data)):
        if field != 1 or wire != 2:
            continue
        for entry_field, entry_wire, entry in _fields(data, *value):
            if entry_field != 1 or entry_wire != 2:
                continue
            key, feature = None, []
            for part, part_wire, span in _fields(data, *entry):
                if part == 1 and part_wire == 2:
                    key = data[span[0]:span[1]].decode("utf-8")
                elif part == 2 and part_wire == 2:
                    feature = _parse_feature(data, *span)
            if key is not None:
                features[key] = feature
    return features


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _encode_varint(field << 3 | 2) + _encode_varint(len(payload)) + payload


def encode_example(features: dict[str, Feature]) -> bytes:
    """{name: list of bytes | float array | int array} -> tf.train.Example bytes (packed lists, as TF writes)."""
    entries = b""
    for key, value in features.items():
        if isinstance(value, (list, tuple)):
            feature = _length_delimited(1, b"".join(_length_delimited(1, bytes(v)) for v in value))
        elif np.issubdtype(np.asarray(value).dtype, np.floating):
            feature = _length_delimited(2, _length_delimited(1, np.asarray(value, "<f4").tobytes()))
        else:
            packed = b"".join(_encode_varint(int(v) & (1 << 64) - 1) for v in np.asarray(value).ravel())
            feature = _length_delimited(3, _length_delimited(1, packed))
        entries += _length_delimited(1, _length_delimited(1, key.encode("utf-8")) + _length_delimited(2, feature))
    return _length_delimited(1, entries)


# --- gqn-datasets scenes -------------------------------------------------------------------------------

def _decode_jpeg(data: bytes, view: int) -> np.ndarray:
    try:
        with open_image(io.BytesIO(data)) as image:
            return decode(image, max_size=None, honour_exif=False)[0]
    except (ImageLoadError, OSError, ValueError, SyntaxError) as error:
        raise ValueError(f"frame {view} is not a readable image ({error})") from None


def example_to_views(features: dict[str, Feature], name: str = "") -> ViewSet:
    """A gqn-datasets example (`frames`, `cameras`) -> ViewSet; ValueError says what is wrong."""
    frames, cameras = features.get("frames"), features.get("cameras")
    if not isinstance(frames, list) or not frames:
        raise ValueError("no 'frames' feature (a bytes list with one JPEG per view)")
    if not isinstance(cameras, np.ndarray) or cameras.dtype != np.float32:
        raise ValueError("no 'cameras' feature (a float list with 5 values per view)")
    if len(cameras) != 5 * len(frames):
        raise ValueError(f"{len(cameras)} camera values for {len(frames)} frames (expected 5 per view)")
    if not np.isfinite(cameras).all():
        raise ValueError("cameras hold NaN or infinite values")
    images = [_decode_jpeg(frame, view) for view, frame in enumerate(frames)]
    if len({image.shape for image in images}) > 1:
        raise ValueError(f"frames differ in size: {sorted({image.shape[:2] for image in images})}")
    return ViewSet(np.stack(images), camera.gqn_camera_to_c2w(cameras.reshape(-1, 5)),
                   names=[f"{name}view-{i:02d}" for i in range(len(images))], meta={"format": "gqn-datasets"})


def scenes_in(path: str | os.PathLike) -> Iterator[tuple[int, ViewSet | None, str | None]]:
    """(record index, scene, None) per readable record, (index, None, what is wrong) per bad one."""
    for index, data, problem in read_records(path):
        scene = None
        if problem is None:
            try:
                scene = example_to_views(parse_example(data), name=f"{Path(path).name}#{index}/")
            except (ValueError, UnicodeDecodeError) as error:
                problem = str(error)
        yield index, scene, problem


def read_tfrecord(path: str | os.PathLike) -> Iterator[ViewSet]:
    """Every scene of one file; the first bad record raises GQNError naming the file and record."""
    for index, scene, problem in scenes_in(path):
        if problem is not None:
            raise GQNError(f"{path}: record {index}: {problem}")
        yield scene


def write_tfrecord(path: str | os.PathLike, scenes: Iterable[ViewSet], quality: int = 95) -> None:
    """Scenes -> a gqn-datasets style TFRecord file (JPEG frames, (x, y, z, yaw, pitch) cameras)."""
    def example(views: ViewSet) -> bytes:
        frames = []
        for image in views.images:
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
            frames.append(buffer.getvalue())
        cameras = camera.c2w_to_gqn_camera(views.c2w).astype(np.float32).ravel()
        return encode_example({"frames": frames, "cameras": cameras})
    write_records(path, (example(views) for views in scenes))


def convert(files: list[str], out: str | os.PathLike, skip_bad: bool = False, as_json: bool = False,
            chunk: int = 64) -> dict[str, Any]:
    """gqn-datasets TFRecord files -> a dataset folder (gqn.data.dataset layout); returns a summary.

    A first pass checks every record (framing, CRCs, protobuf, JPEGs, matching view counts and
    sizes) so the arrays can be sized; the second writes. Bad records raise GQNError naming the
    file and record, or with skip_bad are left out and listed.
    """
    paths = [Path(f) for f in files]
    if Path(out).exists():
        raise GQNError(f"{out}: already exists; choose another --out or delete it")
    for path in paths:
        if not path.is_file():
            raise GQNError(f"{path}: no such file")
    good, (views, size, _), skipped = _check_records(paths, skip_bad, as_json)
    bad = {entry["name"] for entry in skipped}

    args = {"files": [str(p.resolve()) for p in paths], "bytes": [p.stat().st_size for p in paths],
            "skip_bad": skip_bad}
    writer = DatasetWriter(out, good, views, size, args)
    resumed_from, seen = writer.done, 0
    pending: list[ViewSet] = []
    with Progress(good, "converting scenes", as_json, initial=writer.done) as progress:
        for path in paths:
            for index, scene, _ in scenes_in(path):
                if _record_name(path, index) in bad:
                    continue
                seen += 1
                if seen <= writer.done:
                    continue
                pending.append(scene)
                if len(pending) == chunk or writer.done + len(pending) == good:
                    writer.write(np.stack([s.images for s in pending]), np.stack([s.c2w for s in pending]),
                                 np.stack([s.intrinsics for s in pending]))
                    progress.update(len(pending))
                    pending.clear()
    writer.finish({"format": "gqn-datasets", "kind": "gqn-datasets", "scenes": good, "views": views, "size": size,
                   "seed": None, "sources": args["files"], "skipped": skipped, "fov_deg": DEFAULT_FOV_DEG,
                   "fov_note": "assumed: gqn-datasets do not record the field of view",
                   "created_by": "gqn scenes convert"})
    return {"out": str(writer.out), "scenes": good, "views": views, "size": size, "resumed_from": resumed_from,
            "skipped": len(skipped), "skipped_records": skipped}


def _record_name(path: Path, index: int) -> str:
    return f"{path}#{index}"


def _check_records(paths: list[Path], skip_bad: bool, as_json: bool
                   ) -> tuple[int, tuple[int, int, int], list[dict[str, str]]]:
    """(number of good records, their (views, height, width), [{"name", "reason"}] of the bad ones)."""
    good, shape, skipped = 0, None, []
    with Progress(len(paths), "checking records", as_json) as progress:
        for path in paths:
            for index, scene, problem in scenes_in(path):
                if problem is None:
                    views, height, width = scene.images.shape[:3]
                    shape = shape or (views, height, width)
                    if height != width:
                        problem = f"frames are {height}x{width}; datasets need square images"
                    elif (views, height, width) != shape:
                        problem = (f"{views} views of {height}x{width}; earlier records have "
                                   f"{shape[0]} of {shape[1]}x{shape[2]}")
                if problem is None:
                    good += 1
                elif skip_bad:
                    skipped.append({"name": _record_name(path, index), "reason": problem})
                else:
                    raise GQNError(f"{path}: record {index}: {problem} (--skip-bad converts the readable rest)")
            progress.update(1, scenes=good, skipped=len(skipped))
    if not good:
        raise GQNError(f"{', '.join(map(str, paths))}: no readable gqn-datasets records")
    return good, shape, skipped
