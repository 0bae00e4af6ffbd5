"""Camera paths without Qt: keyframes with durations, poses at any time, JSON in and out."""

import json

import numpy as np
import pytest

from explorer.camera_path import MIN_DURATION, CameraPath, Keyframe
from explorer.session import scene_center
from gqn import camera
from gqn.errors import GQNError


def line_path():
    """Three cameras on the x axis at 0, 1 and 3, looking along +y; 2 s then 1 s between them."""
    poses = camera.look_at(np.array([[0.0, 0, 0], [1, 0, 0], [3, 0, 0]]), np.array([[0.0, 5, 0], [1, 5, 0], [3, 5, 0]]))
    return CameraPath([Keyframe(poses[0], 2.0), Keyframe(poses[1], 1.0), Keyframe(poses[2])], fps=10)


def test_times_follow_durations_and_poses_pass_every_keyframe():
    path = line_path()
    np.testing.assert_allclose(path.times, [0, 2, 3])
    assert path.duration == 3.0
    np.testing.assert_allclose(path.pose_at(1.0)[:3, 3], [0.5, 0, 0])   # halfway through the 2 s segment
    np.testing.assert_allclose(path.pose_at(2.5)[:3, 3], [2.0, 0, 0])   # halfway through the 1 s segment
    for t, key in zip(path.times, path.keyframes):
        np.testing.assert_allclose(path.pose_at(t), key.c2w, atol=1e-12)
    np.testing.assert_allclose(path.pose_at(99.0), path.keyframes[-1].c2w, atol=1e-12)
    frames = path.frames()
    assert len(frames) == path.frame_count() == 31 and camera.valid_poses(frames).all()


def test_editing_adds_removes_moves_and_times():
    path = line_path()
    last = path.keyframes[2].c2w
    assert path.add(last, index=1, duration=0.5) == 1 and len(path) == 4
    path.move(1, 3)
    np.testing.assert_array_equal(path.keyframes[3].c2w, last)
    path.remove(0)
    assert len(path) == 3
    path.set_duration(0, 0.0)
    assert path.keyframes[0].duration == MIN_DURATION
    path.clear()
    assert path.duration == 0.0
    with pytest.raises(GQNError, match="no keyframes"):
        path.pose_at(0.0)


def test_one_keyframe_is_a_still():
    path = CameraPath([Keyframe(line_path().keyframes[0].c2w)])
    assert path.frame_count() == 1
    np.testing.assert_array_equal(path.frames()[0], path.keyframes[0].c2w)


def test_json_round_trip_old_files_and_bad_files(tmp_path):
    path = line_path()
    path.save(tmp_path / "path.json")
    loaded = CameraPath.load(tmp_path / "path.json")
    assert loaded.fps == 10 and [k.duration for k in loaded.keyframes] == [2.0, 1.0, 1.0]
    np.testing.assert_allclose(np.stack([k.c2w for k in loaded.keyframes]),
                               np.stack([k.c2w for k in path.keyframes]), atol=1e-8)
    old = {"format": "gqn-camera-path", "frames": 49, "fps": 24,   # before durations: frames spread evenly
           "keyframes": [{"c2w": k.c2w.tolist()} for k in path.keyframes]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert CameraPath.load(tmp_path / "old.json").duration == pytest.approx(2.0)
    (tmp_path / "bad.json").write_text('{"keyframes": [{"c2w": [[1, 0], [0, 1]]}]}')
    with pytest.raises(GQNError, match="bad.json"):
        CameraPath.load(tmp_path / "bad.json")
    skewed = dict(old, keyframes=[{"c2w": (2 * path.keyframes[0].c2w).tolist()}])
    (tmp_path / "skewed.json").write_text(json.dumps(skewed))
    with pytest.raises(GQNError, match="keyframe 0"):
        CameraPath.load(tmp_path / "skewed.json")
    (tmp_path / "still.json").write_text(json.dumps(dict(old, keyframes=[{"c2w": np.eye(4).tolist(), "duration": -1}])))
    with pytest.raises(GQNError, match="positive"):
        CameraPath.load(tmp_path / "still.json")


def test_a_path_through_the_real_cameras_is_a_loop(scene):
    path = CameraPath.through_views(scene, scene_center(scene))
    assert len(path) == len(scene) + 1
    np.testing.assert_array_equal(path.keyframes[0].c2w, path.keyframes[-1].c2w)
    assert {tuple(k.c2w[:3, 3]) for k in path.keyframes} == {tuple(p) for p in scene.positions}
