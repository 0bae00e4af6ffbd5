"""A capture end to end: `gqn evaluate --views` (the held-out protocol) and `gqn fit` on photos of their own shape."""

import json

import numpy as np
from PIL import Image

from gqn import GQN, camera, load_model, load_views
from gqn.cli import main
from gqn.config import preset
from gqn.data.photo_scene import default_cameras, make_scene, render
from gqn.grid import grid_shape


def test_evaluate_views_scores_held_out_photos_at_their_own_aspect(tmp_path, capsys, photo_sets):
    scene, c2w = make_scene(1), default_cameras(12, 1, arc_deg=60.0)
    intrinsics = camera.intrinsics_from_fov(45, 80, 40.0) + [2.0, -3.0, 0, 0]   # portrait, off-centre
    images = np.stack([render(scene, pose, intrinsics, 45, 80) for pose in c2w])
    sets = photo_sets(images, c2w, intrinsics)
    capture = sets.nerf(tmp_path / "capture")
    config = preset("tiny")
    config.representation = "epipolar"
    GQN(config).save(tmp_path / "model")
    grid = tmp_path / "grid.png"
    assert main(["evaluate", "--model", str(tmp_path / "model"), "--views", str(capture), "--holdout-every", "5",
                 "--holdout-start", "2", "--size", "64", "--samples", "2", "--grid", str(grid), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["held_out"] == ["images/view_02.jpg", "images/view_07.jpg"]
    assert result["size"] == [64, 36] and result["contexts"] == 10
    for key in ("psnr_mean", "ssim_mean", "baseline_nearest_psnr", "baseline_nearest_ssim", "baseline_ibr_psnr",
                "baseline_ibr_ssim"):
        assert np.isfinite(result[key]), key
    assert result["baseline_ibr_psnr"] > result["baseline_nearest_psnr"]
    assert Image.open(grid).size == grid_shape(2, 5, (64, 36), title=True)


def test_evaluate_views_refuses_a_bad_grid_name_before_any_work(tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path / "none"), "--views", str(tmp_path), "--grid",
                 str(tmp_path / "grid.jpg")]) == 2
    assert ".png" in capsys.readouterr().err


def test_a_capture_with_sparse_points_is_also_scored_against_depth_from_them(tmp_path, capsys):
    assert main(["scenes", "capture", "--seed", "5", "--views", "15", "--size", "64", "--out",
                 str(tmp_path / "capture")]) == 0
    config = preset("tiny")
    GQN(config).save(tmp_path / "model")
    capsys.readouterr()
    grid = tmp_path / "grid.png"
    assert main(["evaluate", "--model", str(tmp_path / "model"), "--views", str(tmp_path / "capture"), "--size", "48",
                 "--samples", "1", "--grid", str(grid), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["baseline_sparse_psnr"] > result["baseline_nearest_psnr"]
    best = max(result["baseline_ibr_psnr"], result["baseline_sparse_psnr"])
    assert result["baseline_best_classical_psnr"] == best
    assert Image.open(grid).size[0] == grid_shape(1, 6, tuple(result["size"]))[0]


def test_fit_on_a_landscape_capture_trains_in_model_space_and_scores_against_both_baselines(tmp_path, capsys,
                                                                                          photo_sets):
    scene, c2w = make_scene(2), default_cameras(10, 2, arc_deg=50.0)
    intrinsics = camera.intrinsics_from_fov(80, 45, 60.0)
    images = np.stack([render(scene, pose, intrinsics, 80, 45) for pose in c2w])
    capture = photo_sets(images, c2w, intrinsics).nerf(tmp_path / "capture")
    config = preset("tiny")
    config.representation = "epipolar"
    GQN(config).save(tmp_path / "model")
    assert main(["fit", "--model", str(tmp_path / "model"), "--views", str(capture), "--out", str(tmp_path / "fit"),
                 "--steps", "3", "--batch", "2", "--holdout", "2", "--checkpoint-every", "3", "--samples", "1",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert all(np.isfinite(result[key]) for key in ("psnr", "baseline_nearest_psnr", "baseline_ibr_psnr"))
    fitted = load_model(tmp_path / "fit")
    assert fitted.config.epipolar_near < fitted.config.epipolar_far   # the capture's own depth range, in model space
    assert fitted.predict(load_views(capture), c2w[0], samples=1).shape == (1, 1, 18, 32, 3)
