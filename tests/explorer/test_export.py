"""Camera paths and videos, without Qt: the same code the app's worker and `main.py --render-path` run."""

import imageio.v3 as iio
import numpy as np
import pytest

from explorer import export
from explorer.app import main
from explorer.camera_path import CameraPath, Keyframe
from explorer.inference import Predictor
from gqn import camera
from gqn.errors import GQNError


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


def test_bad_video_names_are_refused_before_rendering(tmp_path):
    with pytest.raises(GQNError, match="mp4 or .gif"):
        export.write_video([np.zeros((8, 8, 3), np.uint8)], tmp_path / "out.avi")
    (tmp_path / "taken.mp4").mkdir()
    with pytest.raises(GQNError, match="is a folder"):
        export.check_video_path(tmp_path / "taken.mp4")
    (tmp_path / "file").write_text("")
    with pytest.raises(GQNError, match="cannot write"):
        export.check_video_path(tmp_path / "file" / "video.gif")
    assert export.check_video_path(tmp_path / "new" / "video.GIF") == tmp_path / "new" / "video.GIF"


def test_frames_at_a_chosen_size(model, scene):
    frames = export.render_frames(Predictor(), model, scene, (0,), scene.c2w[:2], samples=1, frame_size=96)
    assert frames[0].shape == (96, 96, 3)


def test_predictor_encodes_each_context_set_once(model, scene):
    predictor = Predictor()
    for c2w in scene.c2w[:3]:
        predictor.predict(model, scene, (0, 2), c2w, samples=1)
    assert predictor.encodings == 1
    predictor.predict(model, scene, (1,), scene.c2w[0], samples=1)
    predictor.predict(model, scene, (0, 2), scene.c2w[0], samples=1)
    assert predictor.encodings == 2


def test_headless_render_path(tmp_path, model_dir, scene, scene_folder, capsys):
    path = CameraPath([Keyframe(scene.c2w[0], 1.0), Keyframe(scene.c2w[1], 0.5), Keyframe(scene.c2w[2])], fps=4)
    path.save(tmp_path / "path.json")
    out = tmp_path / "path.gif"
    assert main([str(scene_folder), "--model", str(model_dir), "--render-path", str(out),
                 "--camera-path", str(tmp_path / "path.json"), "--samples", "1", "--size", "48"]) == 0
    assert iio.imread(out).shape == (path.frame_count(), 48, 48, 3)  # 1.5 s at 4 frames/s, and the last
    assert main([str(tmp_path / "missing"), "--model", str(model_dir), "--render-path", str(out)]) == 2
    assert "missing" in capsys.readouterr().err
    assert main([str(scene_folder), "--model", str(model_dir), "--render-path", str(tmp_path / "out.avi")]) == 2
    assert "mp4 or .gif" in capsys.readouterr().err
