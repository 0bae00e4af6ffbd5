"""Every broken input listed in issue 12, rebuilt from its description: each loads (what was unusable
skipped, with why) or is refused with a GQNError naming the file, and through `gqn info` it is one
line on stderr, never a traceback."""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file, save_file

import gqn.cli
from gqn import GQNError, load_model, load_views
from gqn.data.tfrecord import masked_crc32c


def copy(seeds, fmt: str, tmp_path: Path) -> Path:
    seed = seeds[fmt]
    shutil.copytree(seed.folder, tmp_path / fmt)
    return tmp_path / fmt / seed.path.relative_to(seed.folder)


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def huge_png(path: Path) -> None:
    data = path.read_bytes()
    chunk = b"IHDR" + struct.pack(">II", 65535, 65535) + data[24:29]
    path.write_bytes(data[:12] + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:])


def huge_jpeg(data: bytes) -> bytes:
    at = data.index(b"\xff\xc0") + 5
    return data[:at] + struct.pack(">HH", 65535, 65535) + data[at + 4:]


def record_length(path: Path, value: int) -> None:
    """Record 1's length field set to `value`, with a length CRC that matches it."""
    data = path.read_bytes()
    start = 16 + struct.unpack_from("<Q", data)[0]
    header = struct.pack("<Q", value)
    path.write_bytes(data[:start] + header + struct.pack("<I", masked_crc32c(header)) + data[start + 12:])


# --- the examples: each builds its broken input and returns the path to load ------------------------------

def nerf_file_path_null(seeds, tmp_path):
    path = copy(seeds, "nerf-png", tmp_path)
    edit_json(path / "transforms.json", lambda d: d["frames"][0].update(file_path=None))
    return path


def nerf_k1_abc(seeds, tmp_path):
    path = copy(seeds, "nerf-png", tmp_path)
    edit_json(path / "transforms.json", lambda d: d["frames"][0].update(k1="abc"))
    return path


def nerf_unregistered_5(seeds, tmp_path):
    path = copy(seeds, "nerf-png", tmp_path)
    edit_json(path / "transforms.json", lambda d: d.update(unregistered=5))
    return path


def nerf_nested_100000_deep(seeds, tmp_path):
    path = copy(seeds, "nerf-png", tmp_path)
    (path / "transforms.json").write_text('{"frames": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return path


def nerf_png_65535(seeds, tmp_path):
    path = copy(seeds, "nerf-png", tmp_path)
    huge_png(path / "images" / "view_01.png")
    return path


def nerf_jpeg_65535(seeds, tmp_path):
    path = copy(seeds, "nerf-jpeg", tmp_path)
    photo = path / "images" / "view_01.jpg"
    photo.write_bytes(huge_jpeg(photo.read_bytes()))
    return path


def colmap_jpeg_65535(seeds, tmp_path):
    path = copy(seeds, "colmap-binary", tmp_path)
    photo = path / "images" / "view_01.jpg"
    photo.write_bytes(huge_jpeg(photo.read_bytes()))
    return path


def llff_png_65535(seeds, tmp_path):
    path = copy(seeds, "llff", tmp_path)
    huge_png(path / "images" / "view_00.png")  # the first photo: the one whose size picks the folder
    return path


def tfrecord_jpeg_65535(seeds, tmp_path):
    from gqn.data.tfrecord import encode_example, parse_example, read_records, write_records
    path = copy(seeds, "tfrecord", tmp_path)
    records = [data for _, data, _ in read_records(path)]
    features = parse_example(records[0])
    features["frames"][1] = huge_jpeg(features["frames"][1])
    write_records(path, [encode_example(features)] + records[1:])
    return path


def tfrecord_length_2_64(seeds, tmp_path):
    path = copy(seeds, "tfrecord", tmp_path)
    record_length(path, 2**64 - 1)
    return path


def tfrecord_length_2_40(seeds, tmp_path):
    path = copy(seeds, "tfrecord", tmp_path)
    record_length(path, 2**40)
    return path


def llff_width_0_3(seeds, tmp_path):
    path = copy(seeds, "llff", tmp_path)
    data = np.load(path / "poses_bounds.npy")
    data[:, 9] = 0.3  # the hwf column's w of every pose
    np.save(path / "poses_bounds.npy", data)
    return path


def colmap_width_0(seeds, tmp_path):
    path = copy(seeds, "colmap-text", tmp_path)
    cameras = path / "sparse" / "0" / "cameras.txt"
    cameras.write_text(cameras.read_text().replace("OPENCV 24 24", "OPENCV 0 24"))
    return path


def npy_header_length(fmt: str, name: str):
    def build(seeds, tmp_path):
        path = copy(seeds, fmt, tmp_path)
        data = bytearray((path / name).read_bytes())
        data[8:10] = struct.pack("<H", 10)  # the header-length bytes: numpy's tokenizer meets half a dict
        (path / name).write_bytes(bytes(data))
        return path
    return build


def colmap_colour_300(seeds, tmp_path):
    path = copy(seeds, "colmap-text", tmp_path)
    points = path / "sparse" / "0" / "points3D.txt"
    points.write_text(points.read_text().replace(" 200 100 50 ", " 300 100 50 ", 1))
    return path


def colmap_name_300_characters(seeds, tmp_path):
    path = copy(seeds, "colmap-text", tmp_path)
    images = path / "sparse" / "0" / "images.txt"
    images.write_text(images.read_text().replace("view_00.jpg", "x" * 300 + ".jpg"))
    return path


def config_values(**values):
    def build(seeds, tmp_path):
        path = copy(seeds, "model", tmp_path)
        edit_json(path / "config.json", lambda d: d.update(values))
        return path
    return build


def nan_weight(seeds, tmp_path):
    path = copy(seeds, "model", tmp_path)
    state = load_file(path / "model.safetensors")
    name = sorted(state)[3]
    state[name].view(-1)[0] = float("nan")
    save_file(state, path / "model.safetensors")
    return path


def latest(content):
    def build(seeds, tmp_path):
        path = copy(seeds, "run", tmp_path)
        (path / "latest").unlink()
        if content == "a folder":
            (path / "latest").mkdir()
        else:
            (path / "latest").write_bytes(content)
        return path
    return build


# name -> (builder, what must happen: "loads" with a skipped view whose reason holds the text, or
#          "refused" with a GQNError holding the text; both name a file of the case)
EXAMPLES = {
    "transforms.json file_path null": (nerf_file_path_null, "loads", "no file_path"),
    "transforms.json k1 'abc'": (nerf_k1_abc, "loads", "k1 is 'abc'"),
    "transforms.json unregistered 5": (nerf_unregistered_5, "loads", None),
    "transforms.json nested 100,000 deep": (nerf_nested_100000_deep, "refused", "nested too deeply"),
    "NeRF PNG claims 65535×65535": (nerf_png_65535, "loads", "megapixels"),
    "NeRF JPEG claims 65535×65535": (nerf_jpeg_65535, "loads", "megapixels"),
    "COLMAP JPEG claims 65535×65535": (colmap_jpeg_65535, "loads", "megapixels"),
    "LLFF PNG claims 65535×65535": (llff_png_65535, "loads", "megapixels"),
    "TFRecord JPEG claims 65535×65535": (tfrecord_jpeg_65535, "refused", "megapixels"),
    "TFRecord length 2^64-1": (tfrecord_length_2_64, "loads", None),
    "TFRecord length 2^40": (tfrecord_length_2_40, "loads", None),
    "LLFF width 0.3": (llff_width_0_3, "refused", "is not positive"),
    "COLMAP cameras.txt width 0": (colmap_width_0, "refused", "0×24 pixels"),
    "dataset .npy header length": (npy_header_length("dataset", "c2w.npy"), "refused", "c2w.npy: not a readable .npy"),
    "LLFF .npy header length": (npy_header_length("llff", "poses_bounds.npy"), "refused",
                                "poses_bounds.npy: not a readable .npy"),
    "COLMAP points3D colour 300": (colmap_colour_300, "loads", "colour [300, 100, 50]"),
    "COLMAP 300-character image name": (colmap_name_300_characters, "loads", "File name too long"),
    "config image_size 32.0": (config_values(image_size=32.0), "refused", "image_size must be an integer"),
    "config h_channels 'abc'": (config_values(h_channels="abc"), "refused", "h_channels must be an integer"),
    "config kernel -4": (config_values(kernel=-4), "refused", "kernel must be between 1 and 15"),
    "config tower_channels 20000": (config_values(tower_channels=20000), "refused", "between 1 and 4096"),
    "config in range, too big to build": (config_values(h_channels=4096, r_channels=4096), "refused", "M parameters"),
    "model NaN weight": (nan_weight, "refused", "NaN or infinite"),
    "run latest non-UTF-8": (latest(b"\xff\xfe\x80"), "refused", "latest: not UTF-8"),
    "run latest a folder": (latest("a folder"), "refused", "latest: not a regular file"),
    "run latest /etc": (latest(b"/etc"), "refused", "not a checkpoint folder inside"),
}


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_each_example_loads_or_is_refused_naming_the_file(name, fuzz_seeds, tmp_path):
    build, expected, text = EXAMPLES[name]
    path = build(fuzz_seeds, tmp_path)
    load = load_model if path.name in ("model", "run") else load_views
    if expected == "refused":
        with pytest.raises(GQNError) as caught:
            load(path)
        assert str(path) in str(caught.value) and text in str(caught.value)
        return
    views = load(path)
    assert len(views) >= 1
    if text is not None:
        assert any(text in entry["reason"] for entry in views.skipped), views.skipped


def test_a_corrupt_tfrecord_length_loses_only_what_follows_it(fuzz_seeds, tmp_path):
    path = tfrecord_length_2_64(fuzz_seeds, tmp_path)
    assert len(load_views(path, scene=0)) == 4
    with pytest.raises(GQNError, match=r"scenes\.tfrecord: record 1: cut off: the record says 18446744073709551615"):
        load_views(path, scene=1)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_each_example_through_gqn_info_is_one_line_or_a_listing(name, fuzz_seeds, tmp_path, capsys):
    """Refused: one line naming the file, exit code 2. Described: what could not be used is listed
    (for a TFRecord, info lists a bad record and describes the first good one)."""
    build, expected, text = EXAMPLES[name]
    path = build(fuzz_seeds, tmp_path)
    code = gqn.cli.main(["info", str(path), "--json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and len(captured.err.strip().splitlines()) <= 1, captured.err
    if code == 2:
        assert expected == "refused" and str(path) in captured.err
    else:
        assert code == 0
        result = json.loads(captured.out.splitlines()[-1])
        assert text is None or any(text in entry["reason"] for entry in result["skipped"]), result["skipped"]


# --- `gqn info` and `gqn poses` on what they used to get wrong ----------------------------------------------

def info(capsys, path: Path) -> dict:
    assert gqn.cli.main(["info", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out.splitlines()[-1])


def test_gqn_info_checks_every_tfrecord_record(fuzz_seeds, tmp_path, capsys):
    path = copy(fuzz_seeds, "tfrecord", tmp_path)
    data = bytearray(path.read_bytes())
    second = 16 + struct.unpack_from("<Q", data)[0]
    data[second + 12 + 40] ^= 0xFF  # a byte of record 1's data: its CRC no longer matches
    path.write_bytes(bytes(data[:-50]))  # and record 2 cut off inside
    result = info(capsys, path)
    assert result["scenes"] == 1 and result["records"] == 3 and result["scene"] == 0
    assert [(s["name"], s["reason"].split(" ")[0]) for s in result["skipped"]] == [
        ("scenes.tfrecord#1", "CRC"), ("scenes.tfrecord#2", "cut")]


def test_gqn_info_lists_unreadable_photos_with_why(fuzz_seeds, tmp_path, capsys):
    folder = copy(fuzz_seeds, "photos", tmp_path)
    jpeg = (folder / "view_00.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (folder / "notes.jpg").write_text("a text file named .jpg")
    result = info(capsys, folder)
    assert result["format"] == "photos" and result["photos"] == 4 and result["unreadable"] == 2
    reasons = {s["name"]: s["reason"] for s in result["skipped"]}
    assert "truncated" in reasons["cut.jpg"] and "not an image" in reasons["notes.jpg"]


def test_gqn_info_describes_model_folders_and_runs(fuzz_seeds, capsys):
    result = info(capsys, fuzz_seeds["model"].path)
    assert result["format"] == "model" and result["preset"] == "tiny" and result["parameters"] > 10_000
    assert result["trained_on"]["kind"] == "shepard-metzler-7" and result["image_size"] == 24
    assert result["card"]["figures"] == [{"contexts": "3", "PSNR": "12.5 dB"}]
    result = info(capsys, fuzz_seeds["run"].path)
    assert result["format"] == "run" and result["step"] == 10 and result["checkpoint"].endswith("step-00000010")


def test_a_failed_gqn_poses_names_the_photos_it_could_not_read(tmp_path, capsys):
    from PIL import Image
    folder = tmp_path / "blank"
    folder.mkdir()
    for i in range(3):  # readable but featureless: no reconstruction
        Image.new("RGB", (64, 48), (90, 90, 90)).save(folder / f"{i}.png")
    (folder / "notes.jpg").write_text("a text file named .jpg")
    Image.new("RGB", (64, 48)).save(folder / "cut.jpg")
    (folder / "cut.jpg").write_bytes((folder / "cut.jpg").read_bytes()[:300])
    assert gqn.cli.main(["poses", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err  # progress bars, then the error
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and last.startswith(f"gqn poses: error: {folder}: no reconstruction")
    assert "notes.jpg: not an image" in last and "cut.jpg: truncated" in last


# --- found by the fuzzer after the issue was filed -----------------------------------------------------------

def test_a_camera_absurdly_far_out_is_skipped(fuzz_seeds, tmp_path):
    """A finite, rigid pose at 1e303 passed every check and overflowed `gqn info`'s bounds to inf."""
    from gqn.data.readers import colmap
    path = copy(fuzz_seeds, "colmap-binary", tmp_path)
    model = colmap.read_model(path / "sparse" / "0")
    model.images[1].tvec = np.array([3e303, 0.0, 0.0])
    colmap.write_model(model, path / "sparse" / "0", binary=True)
    views = load_views(path)
    assert len(views) == 3 and any("farther out than 1e+09" in s["reason"] for s in views.skipped)


def test_a_npy_header_claiming_gigabytes_is_refused_before_reading(fuzz_seeds, tmp_path):
    """A version-2 header's 4-byte length field: numpy would allocate what it says (4 GB)."""
    path = copy(fuzz_seeds, "llff", tmp_path)
    data = bytearray((path / "poses_bounds.npy").read_bytes())
    data[6:8], data[8:10] = b"\x02\x00", b""
    data[8:8] = struct.pack("<I", 4_000_000_000)
    (path / "poses_bounds.npy").write_bytes(bytes(data))
    with pytest.raises(GQNError, match="poses_bounds.npy: .* 4000000000 bytes long, more than the file holds"):
        load_views(path)


def test_a_named_pipe_is_refused_not_read(fuzz_seeds, fuzz_worker, tmp_path):
    """`latest` as a named pipe: opening it blocks until someone writes. Run in the fuzz worker, so that
    a regression is a 20 s timeout, not a hung test session."""
    import os
    path = copy(fuzz_seeds, "run", tmp_path)
    (path / "latest").unlink()
    os.mkfifo(path / "latest")
    outcome = fuzz_worker.run("model", path, path)
    assert outcome.status == "error" and "latest: not a regular file" in outcome.detail


def test_a_png_chunk_length_of_gigabytes_costs_no_memory(fuzz_seeds, fuzz_worker, tmp_path):
    """PIL reads a corrupt IDAT length's worth from the file in one call (4 GB asked of the OS). Run in
    the fuzz worker, whose address-space limit turns such a request into the MemoryError it is."""
    path = copy(fuzz_seeds, "nerf-png", tmp_path)
    photo = path / "images" / "view_02.png"
    data = bytearray(photo.read_bytes())
    data[33:35] = b"\xff\x00"  # the length field of the chunk after IHDR: now about 4 GB
    photo.write_bytes(bytes(data))
    outcome = fuzz_worker.run("views", path, path)
    assert outcome.status == "ok" and outcome.peak_mb < 100, outcome


def test_a_npy_shape_with_negative_sides_is_refused(fuzz_seeds, tmp_path):
    """(-3, 2**62 + 1): its exact product is negative (so it looked small); numpy's int64 product wraps
    to 2**62 - 3 and asks for exabytes."""
    path = copy(fuzz_seeds, "llff", tmp_path)
    data = (path / "poses_bounds.npy").read_bytes()
    header = repr({"descr": "|b1", "fortran_order": False, "shape": (-3, 2**62 + 1)}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    (path / "poses_bounds.npy").write_bytes(data[:8] + struct.pack("<H", len(header)) + header)
    with pytest.raises(GQNError, match=r"poses_bounds\.npy: .* has a negative side"):
        load_views(path)
