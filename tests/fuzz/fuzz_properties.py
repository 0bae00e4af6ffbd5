"""Property-based fuzzing with hypothesis: structure-aware inputs (JSON values of any type, config
fields, COLMAP lines, TFRecord framing and protobufs, image headers, .npy headers, `latest` files)
put into a valid seed, loaded in the worker under the same invariant as the seeded cases.

Each `PROPERTIES[name](seeds, workdir, check)` returns a hypothesis test (call it to run it): it writes
one case per example under `workdir` and calls `check(fmt, case_dir, path)`, which loads it and
asserts the invariant. pytest runs them with QUICK settings (tests/fuzz/test_fuzz.py); `make fuzz`
runs them longer.
"""

from __future__ import annotations

import json
import shutil
import string
import struct
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from fuzz_mutators import record_spans
from fuzz_seeds import Seed

Check = Callable[[str, Path, Path], None]

scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
           | st.sampled_from(["", "..", "/etc", "x" * 300, "nul\0", "images/view_00.png"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)
tokens = (st.integers().map(str) | st.floats().map(repr) | st.sampled_from(["nan", "inf", "-0", "1e400", "PINHOLE",
                                                                             "OPENCV", "x" * 300, "view_00.jpg"])
          | st.text(alphabet=string.ascii_letters + string.digits + "._-/", min_size=1, max_size=12))
NERF_KEYS = ["file_path", "transform_matrix", "fl_x", "fl_y", "cx", "cy", "w", "h", "camera_angle_x",
             "camera_angle_y", "k1", "p2"]
CONFIG_KEYS = ["image_size", "representation", "tower_channels", "r_channels", "r_scale", "h_channels", "z_channels",
               "steps", "shared_core", "kernel", "canvas_channels", "bf16", "epipolar_samples", "epipolar_channels",
               "epipolar_near", "epipolar_far", "trained_on"]


# Derandomized: the same examples every run, so a failure in the quick profile is reproducible.
QUICK = dict(max_examples=25, deadline=None, derandomize=True, database=None,
             suppress_health_check=list(HealthCheck))


class Cases:
    """Fresh copies of one seed, one per example, in `workdir`."""

    def __init__(self, seed: Seed, workdir: Path) -> None:
        self.seed = seed
        self.root = Path(workdir)
        self.count = 0

    def new(self) -> tuple[Path, Path]:
        """(case folder, the path its loader takes)."""
        self.count += 1
        case = self.root / f"{self.seed.folder.name}-{self.count}"
        shutil.copytree(self.seed.folder, case, symlinks=True)
        return case, case / self.seed.path.relative_to(self.seed.folder)

    def done(self, case: Path) -> None:
        shutil.rmtree(case, ignore_errors=True)


def transforms_values(seeds: dict[str, Seed], workdir: Path, check: Check):
    cases = Cases(seeds["nerf-png"], workdir)

    @given(where=st.sampled_from(["top", "frame", "every frame", "unregistered", "frames"]),
           key=st.sampled_from(NERF_KEYS), value=json_values)
    def prop(where, key, value):
        case, path = cases.new()
        data = json.loads((case / "transforms.json").read_text())
        if where == "top":
            data[key] = value
        elif where in ("frame", "every frame"):
            for frame in data["frames"][: None if where == "every frame" else 1]:
                frame[key] = value
        else:
            data[where] = value
        (case / "transforms.json").write_text(json.dumps(data))
        check("nerf-png", case, path)
        cases.done(case)
    return prop


def config_values(seeds: dict[str, Seed], workdir: Path, check: Check):
    cases = Cases(seeds["model"], workdir)
    numbers = st.integers(-10, 70_000) | st.floats(-1e6, 1e6) | json_values

    @given(changes=st.dictionaries(st.sampled_from(CONFIG_KEYS), numbers, min_size=1, max_size=3))
    def prop(changes):
        case, path = cases.new()
        config = json.loads((case / "config.json").read_text())
        config.update(changes)
        (case / "config.json").write_text(json.dumps(config))
        check("model", case, path)
        cases.done(case)
    return prop


def colmap_lines(seeds: dict[str, Seed], workdir: Path, check: Check):
    cases = Cases(seeds["colmap-text"], workdir)

    @given(part=st.sampled_from(["cameras", "images", "points3D"]), line=st.lists(tokens, max_size=14),
           at=st.integers(0, 20))
    def prop(part, line, at):
        case, path = cases.new()
        file = case / "sparse" / "0" / f"{part}.txt"
        lines = file.read_text().splitlines()
        data = [i for i, text in enumerate(lines) if not text.startswith("#")]
        lines[data[at % len(data)]] = " ".join(line)
        file.write_text("\n".join(lines) + "\n")
        check("colmap-text", case, path)
        cases.done(case)
    return prop


def tfrecord_records(seeds: dict[str, Seed], workdir: Path, check: Check):
    from gqn.data.tfrecord import encode_example, masked_crc32c
    cases = Cases(seeds["tfrecord"], workdir)
    frames = st.lists(st.binary(max_size=64) | st.sampled_from([b"\xff\xd8\xff\xc0" + bytes(20)]), max_size=4)
    features = st.fixed_dictionaries({"frames": frames, "cameras": st.lists(st.floats(width=32), max_size=25)
                                      .map(lambda v: np.array(v, np.float32))})
    payloads = features.map(encode_example) | st.binary(max_size=200)

    @given(payload=payloads, length=st.none() | st.integers(0, 2**64 - 1), index=st.integers(0, 2))
    def prop(payload, length, index):
        case, path = cases.new()
        blob = path.read_bytes()
        start, size = record_spans(blob)[index]
        header = struct.pack("<Q", len(payload) if length is None else length)
        record = header + struct.pack("<I", masked_crc32c(header)) + payload + struct.pack("<I", masked_crc32c(payload))
        path.write_bytes(blob[:start] + record + blob[start + 16 + size:])
        check("tfrecord", case, path)
        cases.done(case)
    return prop


def image_headers(seeds: dict[str, Seed], workdir: Path, check: Check):
    cases = {fmt: Cases(seeds[fmt], workdir) for fmt in ("nerf-png", "nerf-jpeg", "llff", "colmap-binary")}

    @given(fmt=st.sampled_from(sorted(cases)), width=st.integers(0, 2**31 - 1), height=st.integers(0, 2**31 - 1),
           view=st.integers(0, 3))
    def prop(fmt, width, height, view):
        case, path = cases[fmt].new()
        photo = next((case / "images").glob(f"view_{view:02d}.*"))
        data = photo.read_bytes()
        if photo.suffix == ".png":
            chunk = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
            data = data[:12] + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]
        else:
            at = data.index(b"\xff\xc0") + 5
            data = data[:at] + struct.pack(">HH", height % 65536, width % 65536) + data[at + 4:]
        photo.write_bytes(data)
        check(fmt, case, path)
        cases[fmt].done(case)
    return prop


def npy_headers(seeds: dict[str, Seed], workdir: Path, check: Check):
    cases = {fmt: Cases(seeds[fmt], workdir) for fmt in ("llff", "dataset")}
    shapes = st.lists(st.integers(-2, 2**41), max_size=6).map(tuple)
    descrs = st.sampled_from(["<f8", "<f4", ">f8", "|u1", "<i8", "|O", "<c16", "|b1", "V8"])

    @given(fmt=st.sampled_from(sorted(cases)), shape=shapes, descr=descrs, fortran=st.booleans(),
           file=st.sampled_from(["images.npy", "c2w.npy", "intrinsics.npy"]))
    def prop(fmt, shape, descr, fortran, file):
        case, path = cases[fmt].new()
        target = case / ("poses_bounds.npy" if fmt == "llff" else file)
        data = target.read_bytes()
        (length,) = struct.unpack("<H", data[8:10])
        header = repr({"descr": descr, "fortran_order": fortran, "shape": shape}).encode()
        header += b" " * (-(len(header) + 11) % 64) + b"\n"
        target.write_bytes(data[:8] + struct.pack("<H", len(header)) + header + data[10 + length:])
        check(fmt, case, path)
        cases[fmt].done(case)
    return prop


def run_latest(seeds: dict[str, Seed], workdir: Path, check: Check):
    cases = Cases(seeds["run"], workdir)

    @given(latest=st.binary(max_size=64) | st.text(max_size=300).map(str.encode)
           | st.sampled_from([b"/etc", b"../model", b"checkpoints/../../..", b"checkpoints", b""]))
    def prop(latest):
        case, path = cases.new()
        (case / "latest").write_bytes(latest)
        check("run", case, path)
        cases.done(case)
    return prop


def meta_values(seeds: dict[str, Seed], workdir: Path, check: Check):
    cases = Cases(seeds["dataset"], workdir)

    @given(changes=st.dictionaries(st.sampled_from(["scenes", "views", "size", "seed", "format", "kind", "complete"]),
                                   st.integers(-3, 2**65) | json_values, min_size=1, max_size=3))
    def prop(changes):
        case, path = cases.new()
        meta = json.loads((case / "meta.json").read_text())
        meta.update(changes)
        (case / "meta.json").write_text(json.dumps(meta))
        check("dataset", case, path)
        cases.done(case)
    return prop


PROPERTIES = {"transforms.json values": transforms_values, "config.json values": config_values,
              "COLMAP text lines": colmap_lines, "TFRecord records": tfrecord_records,
              "image headers": image_headers, ".npy headers": npy_headers, "run latest": run_latest,
              "dataset meta.json": meta_values}
