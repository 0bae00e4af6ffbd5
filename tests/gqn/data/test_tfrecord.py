import json
import struct

import numpy as np
import pytest

import gqn.cli
from gqn.data.dataset import SceneDataset
from gqn.data.tfrecord import (
    crc32c, encode_example, masked_crc32c, parse_example, read_records, read_tfrecord, write_records, write_tfrecord,
)
from gqn.errors import GQNError
from gqn.scenes import render_views


@pytest.fixture(scope="module")
def scenes():
    return [render_views("shepard-metzler-7", seed, 4, 32) for seed in range(3)]


def record_offsets(path):
    """Byte offset of each record's data."""
    offsets, pos, blob = [], 0, path.read_bytes()
    while pos < len(blob):
        (length,) = struct.unpack("<Q", blob[pos:pos + 8])
        offsets.append(pos + 12)
        pos += 12 + length + 4
    return offsets


def convert(*argv):
    return gqn.cli.main(["scenes", "convert", *map(str, argv), "--json"])


def test_crc32c_known_values():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0 and masked_crc32c(b"") == 0xA282EAD8


def test_example_round_trip():
    features = {"frames": [b"\x00\xff", b""], "cameras": np.array([1.5, -2.0, 3.25], np.float32),
                "ids": np.array([0, 7, -3, 2**40])}
    parsed = parse_example(encode_example(features))
    assert parsed["frames"] == features["frames"]
    assert parsed["cameras"].dtype == np.float32 and np.array_equal(parsed["cameras"], features["cameras"])
    assert parsed["ids"].tolist() == [0, 7, -3, 2**40]


def test_write_read_round_trip(tmp_path, scenes):
    path = tmp_path / "sm.tfrecord"
    write_tfrecord(path, scenes)
    read = list(read_tfrecord(path))
    assert len(read) == 3
    for got, want in zip(read, scenes):
        assert got.images.shape == want.images.shape
        assert np.abs(got.images.astype(int) - want.images).mean() < 6  # JPEG
        assert np.abs(got.images.astype(int) - scenes[0].images[::-1]).mean() > 6
        assert np.allclose(got.c2w, want.c2w, atol=1e-5)


def test_convert_with_the_cli(tmp_path, scenes, capsys):
    path = tmp_path / "sm.tfrecord"
    write_tfrecord(path, scenes)
    assert convert(path, "--out", tmp_path / "data") == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["scenes"] == 3 and result["skipped"] == 0
    data = SceneDataset(tmp_path / "data")
    assert data.images.shape == (3, 4, 32, 32, 3) and data.meta["format"] == "gqn-datasets"
    assert np.allclose(data.c2w[2], scenes[2].c2w, atol=1e-5)


def test_crc_mismatch_names_file_and_record(tmp_path, scenes, capsys):
    path = tmp_path / "bad.tfrecord"
    write_tfrecord(path, scenes)
    blob = bytearray(path.read_bytes())
    blob[record_offsets(path)[1] + 50] ^= 0xFF
    path.write_bytes(bytes(blob))
    assert [problem is None for _, _, problem in read_records(path)] == [True, False, True]
    with pytest.raises(GQNError, match=r"bad\.tfrecord: record 1: CRC mismatch"):
        list(read_tfrecord(path))
    assert convert(path, "--out", tmp_path / "data") == 2
    assert "bad.tfrecord: record 1: CRC mismatch" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_cut_off_record(tmp_path, scenes):
    path = tmp_path / "cut.tfrecord"
    write_tfrecord(path, scenes)
    path.write_bytes(path.read_bytes()[:record_offsets(path)[2] + 100])
    with pytest.raises(GQNError, match=r"cut\.tfrecord: record 2: cut off"):
        list(read_tfrecord(path))


def test_skip_bad_converts_the_readable_rest(tmp_path, scenes, capsys):
    corrupt, incomplete = tmp_path / "a.tfrecord", tmp_path / "b.tfrecord"
    write_tfrecord(corrupt, scenes)
    blob = bytearray(corrupt.read_bytes())
    blob[record_offsets(corrupt)[0] + 20] ^= 0x01
    corrupt.write_bytes(bytes(blob))
    no_cameras = encode_example({"frames": [b"jpeg?"]})
    write_records(incomplete, [no_cameras])
    assert convert(corrupt, incomplete, "--out", tmp_path / "data", "--skip-bad") == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["scenes"] == 2 and result["skipped"] == 2
    names = [s["name"] for s in result["skipped_records"]]
    assert names == [f"{corrupt}#0", f"{incomplete}#0"]
    assert "cameras" in result["skipped_records"][1]["reason"]
    data = SceneDataset(tmp_path / "data")
    assert len(data) == 2 and np.allclose(data.c2w[0], scenes[1].c2w, atol=1e-5)
    assert data.meta["skipped"] == result["skipped_records"]
