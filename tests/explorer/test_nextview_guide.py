"""The next-best-view guide in the window: run it, see the heat map, go there, stale results go away."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from explorer.nextview import BEST, arc, arrow_lines
from explorer import theme
from explorer_helpers import gl_can_draw, wait_full

COUNT = 20


def run_guide(qtbot, window):
    """Start the guide from its menu action and wait for its ranking."""
    window.next_view.count, window.next_view.samples = COUNT, 2
    with qtbot.waitSignal(window.next_view.ranked, timeout=60000) as ranked:
        window.next_view_action.trigger()
        assert window.next_view.isVisible() and window.next_view.running()
    return ranked.args[0]


def test_the_guide_draws_its_heat_map_and_go_there_moves_the_imagined_camera(qtbot, make_window, model, scene):
    window = make_window(scene, model)
    wait_full(qtbot, window)
    ranking = run_guide(qtbot, window)
    panel, overlay = window.next_view, window.next_view.overlay
    assert ranking.c2w.shape == (COUNT, 4, 4) and np.all(np.diff(ranking.scores) <= 0)
    assert all(item in window.viewport.items and item.visible() for item in overlay.items())
    np.testing.assert_allclose(overlay.dots.pos, ranking.c2w[:, :3, 3])
    assert overlay.dots.color.shape == (COUNT, 4) and len(np.unique(overlay.dots.color, axis=0)) > 1
    np.testing.assert_allclose(overlay.best.pos[0], ranking.c2w[0, :3, 3])       # the frustum's apex
    nearest = scene.nearest(ranking.c2w[0])[0]
    np.testing.assert_allclose(overlay.arrow.pos[0], scene.positions[nearest])   # the arrow leaves a real camera
    assert "Most unsure from" in panel.status.text() and panel.go_button.isEnabled()

    qtbot.mouseClick(panel.go_button, Qt.LeftButton)
    np.testing.assert_array_equal(window.session.camera.c2w, ranking.c2w[0])
    prediction = wait_full(qtbot, window, ranking.c2w[0])   # the model paints what it doubts most
    assert prediction.mean is not None and prediction.truth is not None


def pink_pixels(qtbot, viewport) -> int:
    """How many pixels of the viewport show the guide's colour."""
    qtbot.wait(50)
    frame = viewport.grabFramebuffer()
    pixels = np.array([[frame.pixelColor(x, y).getRgbF()[:3] for x in range(0, frame.width(), 2)]
                       for y in range(0, frame.height(), 2)])
    return int((np.abs(pixels - np.array(theme.rgba(BEST)[:3])).max(-1) < 0.1).sum())


def test_the_guide_is_visible_in_the_viewport_until_hidden(qtbot, make_window, model, scene):
    if not gl_can_draw():
        return
    window = make_window(scene, model)
    run_guide(qtbot, window)
    window.viewport.reset_view()
    shown = pink_pixels(qtbot, window.viewport)
    assert shown > 20  # the best frustum and the arrow are drawn
    qtbot.mouseClick(window.next_view.hide_button, Qt.LeftButton)
    assert not window.next_view.isVisible() and not window.next_view.overlay.visible()
    assert pink_pixels(qtbot, window.viewport) < shown / 4


def test_changing_the_context_withdraws_the_suggestion(qtbot, make_window, model, scene):
    window = make_window(scene, model)
    run_guide(qtbot, window)
    window.session.toggle_context(window.session.context[0])
    panel = window.next_view
    assert panel.ranking is None and not panel.overlay.visible() and not panel.go_button.isEnabled()
    assert "Find again" in panel.status.text()
    with qtbot.waitSignal(panel.ranked, timeout=60000):
        qtbot.mouseClick(panel.find_button, Qt.LeftButton)
    assert panel.overlay.visible()


def test_without_a_model_it_says_so(qtbot, make_window, scene):
    window = make_window(scene)
    assert not window.next_view.start()
    assert "needs a model" in window.session.messages[-1].text and not window.next_view.isVisible()


def test_closing_the_window_while_scoring_stops_the_thread(qtbot, make_window, model, scene):
    window = make_window(scene, model)
    window.next_view.count = 400
    window.next_view.start()
    thread = window.next_view.thread
    assert thread.isRunning()
    window.close()
    assert thread.isFinished()


def test_the_arrow_goes_round_the_scene_and_ends_in_a_head():
    centre = np.array([1.0, 0.0, 0.0])
    path = arc(np.array([3.0, 0.0, 0.0]), np.array([1.0, 0.0, 4.0]), centre, 16)
    np.testing.assert_allclose(path[[0, -1]], [[3, 0, 0], [1, 0, 4]])
    distances = np.linalg.norm(path - centre, axis=-1)
    assert np.all(np.diff(distances) > 0) and distances.min() >= 2.0   # never cuts through the middle
    lines = arrow_lines(path, centre)
    assert lines.shape == (2 * 16 + 4, 3)
    tip, heading = path[-1], path[-1] - path[-2]
    np.testing.assert_allclose(lines[[-4, -2]], [tip, tip])
    assert all(np.dot(barb - tip, heading) < 0 for barb in lines[[-3, -1]])   # both barbs point back


def test_screenshot_with_the_guide_shows_it(tmp_path, model_dir):
    """`main.py --screenshot --next-view` (how docs/next-view.png is made) in a fresh process."""
    if not os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        return
    out, root = tmp_path / "guide.png", Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, str(root / "main.py"), "--model", str(model_dir), "--screenshot", str(out),
                             "--next-view"], capture_output=True, text=True, timeout=300, cwd=root,
                            env=dict(os.environ, QT_QPA_PLATFORM="xcb"))
    assert result.returncode == 0, result.stderr
    shot = np.asarray(Image.open(out).convert("RGB"), np.float32) / 255
    assert (np.abs(shot - np.array(theme.rgba(BEST)[:3])).max(-1) < 0.1).sum() > 50   # the frustum and the legend
