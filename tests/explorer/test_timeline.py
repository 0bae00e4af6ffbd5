"""The camera path timeline in the window, driven as a person would: keys, buttons, the strip."""

import imageio.v3 as iio
import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QDialogButtonBox

from explorer.camera_path import CameraPath
from explorer.timeline import RULER
from explorer_helpers import press


def point(x, y):
    return QPointF(x, y).toPoint()


def card_centre(strip, index):
    return strip.card_rect(index).center().toPoint()


def build_path(qtbot, window):
    """Three keyframes: K at the start, K after orbiting, the Add view button after orbiting more."""
    panel = window.timeline
    assert not panel.isVisible()
    press(qtbot, window, Qt.Key_K)
    assert panel.isVisible() and window.timeline_action.isChecked() and len(panel.path) == 1
    window.session.orbit(40.0, 0.0)
    press(qtbot, window, Qt.Key_K)
    window.session.orbit(40.0, 10.0)
    qtbot.mouseClick(panel.add_button, Qt.LeftButton)
    assert len(panel.path) == 3 and panel.current == 2
    assert window.viewport.camera_path.visible() and len(window.viewport.camera_path.pos) == 21  # 2 s at 10/s
    return panel


def test_keyframes_are_added_timed_reordered_scrubbed_and_deleted(qtbot, make_window, model, scene):
    window = make_window(scene, model)
    panel = build_path(qtbot, window)
    strip, session = panel.strip, window.session
    first, second, third = (k.c2w.copy() for k in panel.path.keyframes)

    qtbot.mouseClick(strip, Qt.LeftButton, pos=card_centre(strip, 0))  # click a keyframe: go there
    assert panel.current == 0
    np.testing.assert_allclose(session.camera.c2w, first, atol=1e-12)
    panel.duration.setValue(2.0)
    assert panel.path.keyframes[0].duration == 2.0 and panel.path.duration == 3.0
    assert strip.card_rect(0).width() > 1.5 * strip.card_rect(1).width()  # cards as wide as their time

    qtbot.mousePress(strip, Qt.LeftButton, pos=card_centre(strip, 0))  # drag the first keyframe to the end
    qtbot.mouseMove(strip, card_centre(strip, 1))
    qtbot.mouseMove(strip, point(strip.width() - 5, strip.height() - 10))
    qtbot.mouseRelease(strip, Qt.LeftButton, pos=point(strip.width() - 5, strip.height() - 10))
    order = [k.c2w for k in panel.path.keyframes]
    for got, want in zip(order, (second, third, first)):
        np.testing.assert_array_equal(got, want)
    assert panel.current == 2

    x = strip.x_of(0.5)  # scrub on the ruler: the imagined camera follows
    qtbot.mousePress(strip, Qt.LeftButton, pos=point(x, RULER / 2))
    qtbot.mouseMove(strip, point(strip.x_of(0.75), RULER / 2))
    qtbot.mouseRelease(strip, Qt.LeftButton, pos=point(strip.x_of(0.75), RULER / 2))
    assert 0.7 < panel.time < 0.8
    np.testing.assert_allclose(session.camera.c2w, panel.path.pose_at(panel.time), atol=1e-9)
    assert session.snapped is None and panel.current == 0  # between the first two keyframes
    qtbot.mouseClick(panel.add_button, Qt.LeftButton)  # a keyframe where the playhead is, in time order
    assert len(panel.path) == 4 and panel.current == 1
    np.testing.assert_allclose(panel.path.keyframes[1].c2w, session.camera.c2w)
    qtbot.mouseClick(panel.delete_button, Qt.LeftButton)  # and gone again

    qtbot.mouseClick(strip, Qt.LeftButton, pos=card_centre(strip, 1))
    qtbot.mouseClick(panel.delete_button, Qt.LeftButton)
    assert len(panel.path) == 2
    np.testing.assert_array_equal(panel.path.keyframes[1].c2w, first)


def test_play_moves_the_imagined_camera_along_the_path(qtbot, make_window, model, scene):
    window = make_window(scene, model)
    panel = build_path(qtbot, window)
    panel.path.set_duration(0, 0.3)
    panel.path.set_duration(1, 0.3)
    poses = []
    window.session.events.camera.connect(lambda: poses.append(window.session.camera.c2w.copy()))
    press(qtbot, window, Qt.Key_Space)
    assert panel.playing and panel.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: not panel.playing, timeout=5000)
    assert len(poses) >= 4  # frames in between, not only the keyframes
    np.testing.assert_allclose(poses[-1], panel.path.keyframes[-1].c2w, atol=1e-12)
    assert panel.time == panel.path.duration and panel.play_button.text() == "Play"
    press(qtbot, window, Qt.Key_Space)  # again: from the start
    assert panel.playing and panel.time < 0.2
    press(qtbot, window, Qt.Key_Space)
    assert not panel.playing


def test_save_load_and_render_with_the_name_checked_first(qtbot, make_window, model, scene, tmp_path):
    window = make_window(scene, model)
    panel = build_path(qtbot, window)
    panel.path.set_duration(0, 0.25)
    panel.path.set_duration(1, 0.25)
    assert panel.save(tmp_path / "path.json")
    saved = [k.c2w for k in panel.path.keyframes]
    panel.seed_from_views()
    assert len(panel.path) == len(scene) + 1
    assert panel.load(tmp_path / "path.json") and len(panel.path) == 3
    np.testing.assert_allclose(np.stack([k.c2w for k in panel.path.keyframes]), np.stack(saved), atol=1e-8)
    (tmp_path / "broken.json").write_text("{")
    assert not panel.load(tmp_path / "broken.json") and window.session.messages[-1].level == "error"
    assert len(panel.path) == 3  # a bad file changes nothing

    dialog = panel.render_dialog()
    render = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok)
    dialog.file.setText(str(tmp_path / "path.avi"))
    qtbot.mouseClick(render, Qt.LeftButton)
    assert dialog.isVisible() and "mp4 or .gif" in dialog.error.text()  # refused before rendering
    dialog.file.setText(str(tmp_path / "path.mp4"))
    dialog.size.setValue(72)
    qtbot.mouseClick(render, Qt.LeftButton)
    assert dialog.isVisible() and "multiple of 16" in dialog.error.text()
    dialog.file.setText(str(tmp_path / "path.gif"))
    dialog.fps.setValue(8)
    with qtbot.waitSignal(window.jobDone, timeout=60000) as signal:
        qtbot.mouseClick(render, Qt.LeftButton)
    assert signal.args == ["video", True]
    video = iio.imread(tmp_path / "path.gif")
    assert video.shape == (CameraPath.load(tmp_path / "path.json").frame_count(8), 72, 144, 3)  # generated | true
    assert not window.render_video(tmp_path / "out.webm", panel.path.frames())
    assert "mp4 or .gif" in window.session.messages[-1].text
