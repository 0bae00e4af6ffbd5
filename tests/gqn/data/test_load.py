"""load_views dispatch over every kind of path, and `gqn info` describing them."""

import json

import numpy as np
import pytest

import gqn.cli
from gqn import ViewSet, camera, load_views
from gqn.data.dataset import DatasetWriter
from gqn.data.load import detect_format
from gqn.data.tfrecord import write_tfrecord
from gqn.errors import GQNError


def small_scenes(count: int, views: int = 4, size: int = 16) -> list[ViewSet]:
    rng = np.random.default_rng(0)
    return [ViewSet(rng.integers(0, 256, (views, size, size, 3), dtype=np.uint8),
                    camera.orbit_path(views, 2.0 + i, start_azimuth_deg=10.0 * i)) for i in range(count)]


def write_dataset(folder, scenes: list[ViewSet]) -> None:
    views, size = len(scenes[0]), scenes[0].size[0]
    writer = DatasetWriter(folder, len(scenes), views, size, {"test": True})
    writer.write(np.stack([s.images for s in scenes]), np.stack([s.c2w for s in scenes]),
                 np.stack([s.intrinsics for s in scenes]))
    writer.finish({"format": "dataset", "kind": "test", "scenes": len(scenes), "views": views, "size": size})


def test_dispatch_on_what_the_path_holds(sets, tmp_path):
    nerf = sets.nerf(tmp_path / "nerf")
    model = sets.colmap(tmp_path / "colmap", binary=False)
    llff = sets.llff(tmp_path / "llff")
    sets.photos(tmp_path / "photos")
    expected = {
        nerf: ("nerf", nerf), nerf.parent: ("nerf", nerf),
        model: ("colmap", model), model / "cameras.txt": ("colmap", model), tmp_path / "colmap": ("colmap", model),
        llff: ("llff", llff), llff / "poses_bounds.npy": ("llff", llff),
        tmp_path / "photos": ("photos", tmp_path / "photos"),
    }
    for path, (fmt, target) in expected.items():
        assert detect_format(path) == (fmt, target), path
        if fmt != "photos":
            np.testing.assert_allclose(load_views(path).c2w, sets.c2w, atol=1e-6)


def test_a_single_photo_is_told_to_use_a_folder(sets, tmp_path):
    photo = sets.photos(tmp_path)[0]
    with pytest.raises(GQNError, match="single photo has no pose"):
        load_views(photo)


def test_dataset_scenes(tmp_path):
    scenes = small_scenes(3)
    write_dataset(tmp_path / "ds", scenes)
    for path in (tmp_path / "ds", tmp_path / "ds" / "meta.json"):
        views = load_views(path, scene=2)
        np.testing.assert_array_equal(views.images, scenes[2].images)
        np.testing.assert_allclose(views.c2w, scenes[2].c2w)
    np.testing.assert_array_equal(load_views(tmp_path / "ds").images, scenes[0].images)
    with pytest.raises(GQNError, match="scene 3 does not exist"):
        load_views(tmp_path / "ds", scene=3)


def test_tfrecord_scenes(tmp_path):
    scenes = small_scenes(3)
    path = tmp_path / "shepard.tfrecord"
    write_tfrecord(path, scenes)
    views = load_views(path, scene=1)
    assert views.meta["format"] == "gqn-datasets" and len(views) == 4
    np.testing.assert_allclose(views.c2w, scenes[1].c2w, atol=1e-5)
    with pytest.raises(GQNError, match="scene 5 does not exist.*3 records"):
        load_views(path, scene=5)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) - 50])  # the last record cut off
    with pytest.raises(GQNError, match="record 2: cut off"):
        load_views(path, scene=2)
    assert len(load_views(path, scene=0)) == 4


def info(capsys, *argv) -> tuple[int, dict]:
    code = gqn.cli.main(["info", *map(str, argv), "--json"])
    lines = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(lines[-1])


def test_gqn_info_json(sets, tmp_path, capsys):
    path = sets.nerf(tmp_path / "scene")
    data = json.loads(path.read_text())
    data["frames"][0]["file_path"] = "images/gone.jpg"
    path.write_text(json.dumps(data))
    code, result = info(capsys, tmp_path / "scene")
    assert code == 0
    assert result["format"] == "nerf" and result["views"] == 4
    assert result["skipped"] == [{"name": "images/gone.jpg", "reason": "file not found"}]
    assert result["resolution"] == [160, 120]
    assert result["fov_x_deg"]["mean"] == pytest.approx(60.0, abs=0.01)
    np.testing.assert_allclose(result["camera_positions"]["min"], sets.c2w[1:, :3, 3].min(0), atol=1e-5)

    code, result = info(capsys, sets.colmap(tmp_path / "colmap", binary=True))
    assert result["format"] == "colmap-binary" and result["points"] == 30
    np.testing.assert_allclose(result["points_bounds"]["max"], sets.points.max(0), atol=1e-5)


def test_gqn_info_on_photos_datasets_and_bad_paths(sets, tmp_path, capsys):
    sets.photos(tmp_path / "photos")
    code, result = info(capsys, tmp_path / "photos")
    assert code == 0 and result["format"] == "photos" and result["views"] == 0 and result["photos"] == 5
    assert "gqn poses" in result["needs"]
    write_dataset(tmp_path / "ds", small_scenes(2))
    code, result = info(capsys, tmp_path / "ds", "--scene", 1)
    assert result["format"] == "dataset" and result["scenes"] == 2 and result["scene"] == 1 and result["views"] == 4
    write_tfrecord(tmp_path / "few.tfrecord", small_scenes(3))
    code, result = info(capsys, tmp_path / "few.tfrecord", "--scene", 2)
    assert result["format"] == "gqn-datasets" and result["scenes"] == 3 and result["views"] == 4
    code, result = info(capsys, tmp_path / "missing")
    assert code == 2 and "no such file" in result["error"]


def test_a_photo_of_another_shape_is_skipped_with_its_reason(sets, tmp_path):
    path = sets.nerf(tmp_path / "mixed")                    # 160×120 landscape photos
    portrait = np.ascontiguousarray(np.rot90(sets.images[1]))
    from PIL import Image
    Image.fromarray(portrait).save(tmp_path / "mixed" / "images" / sets.names[1])
    views = load_views(path)
    assert len(views) == len(sets.names) - 1 and views.size == (120, 160)
    reason = next(s["reason"] for s in views.skipped if s["name"].endswith(sets.names[1]))
    assert "120×160 px does not match the capture's aspect" in reason
