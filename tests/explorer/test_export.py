"""Camera paths and videos, without Qt: the same code the app's worker and `main.py --render-path` run."""

import imageio.v3 as iio
import numpy as np
import pytest

from explorer import export
from explorer.app import main
from explorer.inference import Predictor
from explorer.session import scene_center
from gqn import camera
from gqn.errors import GQNError


def test_keyframes_from_views_loop_through_every_camera(scene):
    keys = export.keyframes_from_views(scene, scene_center(scene))
    assert keys.shape == (len(scene) + 1, 4, 4)
    np.testing.assert_array_equal(keys[0], keys[-1])
    assert {tuple(k[:3, 3]) for k in keys} == {tuple(p) for p in scene.positions}


def test_camera_path_round_trip_and_bad_files(tmp_path, scene):
    keys = scene.c2w[:3]
    export.save_camera_path(tmp_path / "path.json", keys, frames=10, fps=12)
    loaded = export.load_camera_path(tmp_path / "path.json")
    np.testing.assert_allclose(loaded["keyframes"], keys, atol=1e-8)
    assert (loaded["frames"], loaded["fps"]) == (10, 12)
    (tmp_path / "bad.json").write_text('{"keyframes": [{"c2w": [[1, 0], [0, 1]]}]}')
    with pytest.raises(GQNError, match="bad.json"):
        export.load_camera_path(tmp_path / "bad.json")
    skewed = keys.copy()
    skewed[1, :3, :3] *= 2.0
    export.save_camera_path(tmp_path / "skewed.json", skewed, frames=10)
    with pytest.raises(GQNError, match="keyframe 1"):
        export.load_camera_path(tmp_path / "skewed.json")


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_rendered_videos_play_back(tmp_path, model, scene, suffix):
    poses = camera.orbit_path(5, 8.0, 20.0)
    frames = export.render_frames(Predictor(), model, scene, (0, 1), poses, samples=2,
                                  truth=lambda c2w: scene.images[0])
    out = export.write_video(frames, tmp_path / f"orbit{suffix}", fps=10)
    video = iio.imread(out)
    assert video.shape == (5, export.FRAME_SIZE, 2 * export.FRAME_SIZE, 3)


def test_render_frames_can_be_cancelled(model, scene):
    done = []
    frames = export.render_frames(Predictor(), model, scene, (0,), camera.orbit_path(10, 8.0),
                                  samples=1, progress=lambda i, n: done.append(i), cancelled=lambda: len(done) >= 2)
    assert frames is None and done == [1, 2]


def test_bad_video_name(tmp_path):
    with pytest.raises(GQNError, match="mp4 or .gif"):
        export.write_video([np.zeros((8, 8, 3), np.uint8)], tmp_path / "out.avi")


def test_predictor_encodes_each_context_set_once(model, scene):
    predictor = Predictor()
    for c2w in scene.c2w[:3]:
        predictor.predict(model, scene, (0, 2), c2w, samples=1)
    assert predictor.encodings == 1
    predictor.predict(model, scene, (1,), scene.c2w[0], samples=1)
    predictor.predict(model, scene, (0, 2), scene.c2w[0], samples=1)
    assert predictor.encodings == 2


def test_headless_render_path(tmp_path, model_dir, scene, scene_folder, capsys):
    folder = scene_folder
    export.save_camera_path(tmp_path / "path.json", scene.c2w[:3], frames=4)
    out = tmp_path / "path.gif"
    assert main([str(folder), "--model", str(model_dir), "--render-path", str(out),
                 "--camera-path", str(tmp_path / "path.json"), "--samples", "1"]) == 0
    assert iio.imread(out).shape[0] == 4
    assert main([str(tmp_path / "missing"), "--model", str(model_dir), "--render-path", str(out)]) == 2
    assert "missing" in capsys.readouterr().err
