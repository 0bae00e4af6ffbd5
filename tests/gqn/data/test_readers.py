"""Every posed-image reader returns the same views in the one convention; bad frames are skipped with a reason."""

import json
import math
import shutil

import numpy as np
import pytest
from PIL import Image

from gqn import camera, load_views
from gqn.data.readers import colmap
from gqn.data.readers.folder import NoPosesError
from gqn.errors import GQNError


def assert_same_views(views, sets, atol=1e-6):
    assert len(views) == len(sets.c2w)
    np.testing.assert_allclose(views.c2w, sets.c2w, atol=atol)
    np.testing.assert_allclose(views.intrinsics, np.tile(sets.intrinsics, (len(sets.c2w), 1)), atol=1e-6)
    assert views.images.shape == sets.images.shape
    difference = float(np.abs(views.images.astype(int) - sets.images).mean())
    assert difference < 3  # JPEG round trip
    assert views.skipped == []


def test_every_format_returns_the_same_poses(sets, tmp_path):
    sources = {
        "nerf": sets.nerf(tmp_path / "nerf"),
        "colmap-text": sets.colmap(tmp_path / "colmap_text", binary=False),
        "colmap-binary": sets.colmap(tmp_path / "colmap_bin", binary=True),
        "llff": sets.llff(tmp_path / "llff"),
    }
    loaded = {fmt: load_views(path) for fmt, path in sources.items()}
    for fmt, views in loaded.items():
        assert views.meta["format"] == fmt
        assert_same_views(views, sets)
        assert [name.split("/")[-1] for name in views.names] == sets.names
    for fmt in ("colmap-text", "colmap-binary"):
        np.testing.assert_allclose(loaded[fmt].points, sets.points, atol=1e-6)
        np.testing.assert_array_equal(loaded[fmt].point_colors, sets.point_colors)
    np.testing.assert_array_equal(loaded["nerf"].images, loaded["llff"].images)


def test_nerf_camera_angle_and_paths_without_extension(sets, tmp_path):
    frames = [{"file_path": f"./images/{name[:-4]}", "transform_matrix": camera.opencv_to_opengl(pose).tolist()}
              for name, pose in zip(sets.names, sets.c2w)]
    fov_x = 2 * math.atan(sets.width / 2 / sets.intrinsics[0])
    path = sets.nerf(tmp_path, frames, fl_x=None, fl_y=None, cx=None, cy=None, w=None, h=None, camera_angle_x=fov_x)
    assert_same_views(load_views(path), sets)


def test_nerf_json_elsewhere_per_frame_overrides_and_distortion(sets, tmp_path):
    frames = [{"file_path": f"../images/{name}", "transform_matrix": camera.opencv_to_opengl(pose).tolist()}
              for name, pose in zip(sets.names, sets.c2w)]
    frames[1].update(fl_x=200.0, fl_y=210.0, cx=81.0, cy=59.0, k1=0.02)
    sets.nerf(tmp_path, frames, k1=-0.01, p1=0.001)
    (tmp_path / "poses").mkdir()
    json_path = tmp_path / "poses" / "cams.json"
    (tmp_path / "transforms.json").rename(json_path)
    views = load_views(json_path)
    np.testing.assert_allclose(views.c2w, sets.c2w, atol=1e-6)
    np.testing.assert_allclose(views.intrinsics[1], [200.0, 210.0, 81.0, 59.0])
    np.testing.assert_allclose(views.intrinsics[0], sets.intrinsics)
    assert views.meta["distortion"][views.names[0]] == {"k1": -0.01, "p1": 0.001}
    assert views.meta["distortion"][views.names[1]] == {"k1": 0.02, "p1": 0.001}


def test_nerf_bad_frames_are_skipped_with_reasons(sets, tmp_path):
    path = sets.nerf(tmp_path)
    data = json.loads(path.read_text())
    images = tmp_path / "images"
    data["frames"][0]["transform_matrix"][0][3] = float("nan")
    singular = np.array(data["frames"][1]["transform_matrix"])
    singular[:3, 0] = 0.0
    data["frames"][1]["transform_matrix"] = singular.tolist()
    data["frames"][2]["file_path"] = "images/missing.jpg"
    blob = (images / sets.names[3]).read_bytes()
    (images / sets.names[3]).write_bytes(blob[: len(blob) // 2])            # truncated JPEG
    data["frames"].append({"file_path": "images/notes.png", "transform_matrix": data["frames"][4]["transform_matrix"]})
    (images / "notes.png").write_text("not a picture")                      # non-image file
    data["frames"].append({"file_path": "images/empty.jpg", "transform_matrix": data["frames"][4]["transform_matrix"]})
    (images / "empty.jpg").write_bytes(b"")                                 # zero-size image
    path.write_text(json.dumps(data))

    views = load_views(path)
    assert views.names == [f"images/{sets.names[4]}"]
    np.testing.assert_allclose(views.c2w[0], sets.c2w[4], atol=1e-6)
    reasons = {s["name"]: s["reason"] for s in views.skipped}
    assert set(reasons) == {f"images/{sets.names[i]}" for i in (0, 1, 3)} | {
        "images/missing.jpg", "images/notes.png", "images/empty.jpg"}
    assert "NaN" in reasons[f"images/{sets.names[0]}"]
    assert "rigid" in reasons[f"images/{sets.names[1]}"]
    assert "not found" in reasons["images/missing.jpg"]
    assert "truncated" in reasons[f"images/{sets.names[3]}"]
    assert "not an image" in reasons["images/notes.png"]
    assert "empty" in reasons["images/empty.jpg"]


def test_nerf_with_nothing_usable_is_one_clear_error(sets, tmp_path):
    path = sets.nerf(tmp_path)
    shutil.rmtree(tmp_path / "images")
    with pytest.raises(GQNError, match="transforms.json: no frame could be used.*not found"):
        load_views(path)
    path.write_text("{not json")
    with pytest.raises(GQNError, match="transforms.json: not a readable JSON"):
        load_views(path)


@pytest.mark.parametrize("model_name", ["SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV"])
def test_colmap_camera_models(sets, tmp_path, model_name):
    views = load_views(sets.colmap(tmp_path, binary=model_name in ("PINHOLE", "RADIAL"), model_name=model_name))
    np.testing.assert_allclose(views.c2w, sets.c2w, atol=1e-6)
    np.testing.assert_allclose(views.intrinsics[0], sets.intrinsics, atol=1e-9)
    distortion = views.meta.get("distortion", {}).get(views.names[0], {})
    expected = {"SIMPLE_RADIAL": {"k1": 0.01}, "RADIAL": {"k1": 0.01, "k2": -0.002},
                "OPENCV": {"k1": 0.01, "k2": -0.002, "p1": 1e-4, "p2": 2e-4}}.get(model_name, {})
    assert distortion == expected


def test_colmap_unsupported_model_is_skipped(sets, tmp_path):
    with pytest.raises(GQNError, match="OPENCV_FISHEYE is not supported"):
        load_views(sets.colmap(tmp_path, binary=True, model_name="OPENCV_FISHEYE"))


@pytest.mark.parametrize("binary", [True, False])
def test_colmap_writer_round_trip_and_pycolmap_reads_it(sets, tmp_path, binary):
    model = sets.colmap_model("OPENCV")
    colmap.write_model(model, tmp_path, binary)
    back = colmap.read_model(tmp_path)
    assert back.problems == [] and back.binary == binary
    for image_id, image in model.images.items():
        other = back.images[image_id]
        assert other.name == image.name and other.camera_id == image.camera_id
        np.testing.assert_array_equal(other.qvec, image.qvec)
        np.testing.assert_array_equal(other.xys, image.xys)
        np.testing.assert_array_equal(other.point3d_ids, image.point3d_ids)
    np.testing.assert_array_equal(back.points[3].track, model.points[3].track)
    np.testing.assert_array_equal(back.cameras[1].params, model.cameras[1].params)
    pycolmap = pytest.importorskip("pycolmap")
    rec = pycolmap.Reconstruction(str(tmp_path))
    assert rec.num_reg_images() == len(model.images) and rec.num_points3D() == len(model.points)
    np.testing.assert_allclose(rec.images[2].cam_from_world().matrix()[:, 3], model.images[2].tvec)


@pytest.mark.parametrize("layout", ["beside-sparse", "beside-model", "in-model-folder"])
def test_colmap_images_found_in_the_usual_places(sets, tmp_path, layout):
    model_folder = sets.colmap(tmp_path, binary=True)
    if layout == "beside-sparse":      # root/images, model in root/sparse (no /0)
        shutil.move(model_folder, tmp_path / "model")
        shutil.rmtree(tmp_path / "sparse")
        (tmp_path / "sparse").mkdir()
        for f in (tmp_path / "model").iterdir():
            shutil.move(f, tmp_path / "sparse" / f.name)
        model_folder = tmp_path / "sparse"
    elif layout == "in-model-folder":  # photos right beside cameras.bin
        for f in (tmp_path / "images").iterdir():
            shutil.move(f, model_folder / f.name)
    views = load_views(tmp_path if layout != "in-model-folder" else model_folder)
    assert len(views) == 5 and views.skipped == []


def test_colmap_binary_cut_short_loads_the_rest(sets, tmp_path):
    folder = sets.colmap(tmp_path, binary=True)
    blob = (folder / "images.bin").read_bytes()
    (folder / "images.bin").write_bytes(blob[: int(len(blob) * 0.7)])
    views = load_views(tmp_path)
    assert 1 <= len(views) < 5
    np.testing.assert_allclose(views.c2w, sets.c2w[: len(views)], atol=1e-6)
    assert any(s["name"] == "images.bin" and "cut short" in s["reason"] for s in views.skipped)
    points = (folder / "points3D.bin").read_bytes()
    (folder / "points3D.bin").write_bytes(points[:100])
    assert any(s["name"] == "points3D.bin" for s in load_views(tmp_path).skipped)
    (folder / "cameras.bin").write_bytes((folder / "cameras.bin").read_bytes()[:20])
    with pytest.raises(GQNError, match="no view could be used — cameras.bin: file cut short"):
        load_views(tmp_path)


def test_colmap_text_cut_short_loads_the_rest(sets, tmp_path):
    folder = sets.colmap(tmp_path, binary=False)
    lines = (folder / "images.txt").read_text().splitlines()
    cut = "\n".join(lines[:8]) + "\n" + lines[8][:20]  # 2 whole images, then half a header line
    (folder / "images.txt").write_text(cut)
    views = load_views(folder)
    assert len(views) == 2
    assert any("images.txt line" in s["name"] for s in views.skipped)


def test_llff_picks_the_downscaled_copy_and_checks_counts(sets, tmp_path):
    root = sets.llff(tmp_path)
    (root / "images_2").mkdir()
    for name, image in zip(sets.names, sets.images):
        Image.fromarray(image).resize((80, 60), Image.Resampling.LANCZOS).save(root / "images_2" / name)
    small = load_views(root, max_size=64)
    assert small.size == (48, 64) and small.meta["image_folder"].endswith("images_2")
    np.testing.assert_allclose(small.intrinsics[0], sets.intrinsics * 0.4)
    full = load_views(root / "poses_bounds.npy", max_size=None)
    assert full.size == (120, 160) and full.meta["image_folder"].endswith("images")
    (root / "images" / sets.names[0]).unlink()
    shutil.rmtree(root / "images_2")
    with pytest.raises(GQNError, match="5 poses but no image folder with 5 photos"):
        load_views(root)


def test_plain_folder_needs_pose_estimation(sets, tmp_path):
    sets.photos(tmp_path)
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(NoPosesError, match="gqn poses") as caught:
        load_views(tmp_path)
    assert [p.name for p in caught.value.images] == sets.names
    assert isinstance(caught.value, GQNError)


def test_empty_or_unknown_paths_are_clear_errors(tmp_path):
    with pytest.raises(GQNError, match="no photos here"):
        load_views(tmp_path)
    with pytest.raises(GQNError, match="no such file or folder"):
        load_views(tmp_path / "nope")
    (tmp_path / "data.csv").write_text("1,2")
    with pytest.raises(GQNError, match="data.csv: not a format"):
        load_views(tmp_path / "data.csv")


def test_scene_index_only_for_multi_scene_sources(sets, tmp_path):
    with pytest.raises(GQNError, match="holds one scene"):
        load_views(sets.nerf(tmp_path), scene=2)


def test_transforms_json_gets_the_points_of_the_colmap_model_beside_it(sets, tmp_path):
    """What `gqn poses` writes: transforms.json and sparse/0 of the same cameras."""
    root = tmp_path / "capture"
    sets.colmap(root, binary=True)
    sets.nerf(root)
    views = load_views(root)
    assert views.meta["format"] == "nerf"
    np.testing.assert_allclose(views.points, sets.points, atol=1e-6)
    np.testing.assert_array_equal(views.point_colors, sets.point_colors)


def test_points_of_a_colmap_model_in_another_frame_are_left_out(sets, tmp_path):
    root = tmp_path / "capture"
    sets.colmap(root, binary=False)
    moved = sets.c2w.copy()
    moved[:, :3, 3] *= 2.0  # e.g. nerfstudio rescales its transforms.json but not its COLMAP model
    sets.nerf(root, frames=[{"file_path": f"images/{name}", "transform_matrix": camera.opencv_to_opengl(pose).tolist()}
                            for name, pose in zip(sets.names, moved)])
    assert load_views(root).points is None
