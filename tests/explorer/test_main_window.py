"""The window end to end under Xvfb: demo, drops, live view, snapping, exports, child jobs, closing."""

import argparse
import threading
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from explorer.app import populate
from explorer.fit_dialog import FitDialog
from explorer_helpers import gl_can_draw, wait_full


def drop(window, paths):
    """Drag `paths` in from a file manager and let go over the window."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPointF(200, 200), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(QPointF(200, 200), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))


def test_window_opens_on_the_demo_and_draws_a_generated_view(qtbot, make_window, model_dir):
    window = make_window()
    populate(window, argparse.Namespace(model=str(model_dir), paths=[]))
    session = window.session
    assert session.views is not None and len(session.views) > 0 and session.model is not None
    prediction = wait_full(qtbot, window, session.camera.c2w)
    assert prediction.mean is not None and prediction.std is not None
    assert window.view_panel.generated.view.pixmap is not None
    assert window.view_panel.psnr.text().endswith("dB")  # procedural demo: exact truth everywhere
    assert len(window.viewport.photos) == len(session.views)
    if gl_can_draw():
        frame = window.viewport.grabFramebuffer()
        assert frame.width() > 0 and len(set(frame.pixel(x, y) for x in range(0, frame.width(), 37)
                                             for y in range(0, frame.height(), 37))) > 3


def test_bad_model_at_start_still_opens_the_scene(qtbot, make_window, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.safetensors").write_bytes(b"not safetensors")
    window = make_window()
    assert not populate(window, argparse.Namespace(model=str(tmp_path / "model"), paths=[]))
    assert window.session.model is None and window.session.views is not None
    offer = next(m for m in window.session.messages if m.level == "error")
    assert "model.safetensors" in offer.text and offer.action_label == "Open model…"
    assert window.model_label.text() == "No model loaded"


def test_opening_a_model_replaces_the_no_model_message(qtbot, make_window, model_dir, tmp_path):
    (tmp_path / "model").mkdir()
    window = make_window()
    populate(window, argparse.Namespace(model=str(tmp_path / "model"), paths=[]))
    assert any("Open model" in row.button.text() for row in window.messages.visible_rows() if row.button)
    drop(window, [model_dir])
    texts = [row.message.text for row in window.messages.visible_rows()]
    assert texts[0].startswith("Loaded model") and not any(str(tmp_path / "model") in t for t in texts)


def test_dropping_a_folder_shows_one_frustum_per_view(qtbot, make_window, model, scene_folder, scene):
    window = make_window(model=model)
    drop(window, [scene_folder])
    views = window.session.views
    assert views is not None and len(views) == len(scene)
    assert window.viewport._corners.shape == (len(scene), 5, 3)
    assert len(window.viewport.photos) == len(scene) and len(window.thumbnails.thumbs) == len(scene)
    window.session.set_show_photos(False)
    assert window.viewport.photos is None
    assert window.recent_paths()[0] == str(scene_folder)


def test_moving_the_imagined_camera_yields_its_generated_image(qtbot, make_window, model, scene):
    window = make_window(scene, model)
    wait_full(qtbot, window)
    generated = window.view_panel.generated_view
    qtbot.mousePress(generated, Qt.LeftButton, pos=generated.rect().center())
    for dx in range(1, 6):
        qtbot.mouseMove(generated, generated.rect().center() + QPointF(10 * dx, 0).toPoint())
    qtbot.mouseRelease(generated, Qt.LeftButton)
    assert window.session.snapped is None
    prediction = wait_full(qtbot, window, window.session.camera.c2w)
    assert prediction.mean.shape == (32, 32, 3)


def test_a_burst_of_pose_changes_runs_few_inferences_and_ends_on_the_last_pose(qtbot, make_window, model, scene):
    window = make_window(scene, model)
    wait_full(qtbot, window)
    release = threading.Event()
    window.worker.submit_job(lambda predictor, progress, cancelled: release.wait(10))  # the worker is busy
    before = window.worker.inferences
    for _ in range(50):
        window.session.orbit(2.0, 0.5)
    release.set()
    final = window.session.camera.c2w.copy()
    prediction = wait_full(qtbot, window, final)
    qtbot.wait(100)
    assert window.worker.inferences - before <= 3  # at most: one draft, one full, one straggler
    np.testing.assert_array_equal(window.last_prediction.c2w, final)
    assert not window.last_prediction.draft and prediction is window.last_prediction


def test_snapping_to_a_held_out_photo_shows_psnr(qtbot, make_window, model, photo_scene):
    window = make_window(photo_scene, model)
    session = window.session
    session.orbit(15.0, 0.0)
    wait_full(qtbot, window, session.camera.c2w)
    assert window.view_panel.psnr.text() == "–"  # photos: no true view between the cameras
    held_out = next(i for i in range(len(photo_scene)) if i not in session.context)
    session.snap_to(held_out)
    wait_full(qtbot, window, photo_scene.c2w[held_out])
    assert window.view_panel.psnr.text().endswith("dB") and window.view_panel.ssim.text() != "–"
    session.snap_to(session.context[0])
    wait_full(qtbot, window, photo_scene.c2w[session.context[0]])
    assert window.view_panel.psnr.text() == "–" and "context view" in window.view_panel.score_note.text()


def test_clicking_a_frustum_snaps_onto_that_camera(qtbot, make_window, model, scene):
    if not gl_can_draw():
        pytest.skip("needs an OpenGL platform (xcb under Xvfb)")
    window = make_window(scene, model)
    viewport = window.viewport
    target = 5 if window.session.snapped != 5 else 6
    xy, _ = viewport.project(viewport._corners[target, 1:].mean(0, keepdims=True))
    assert viewport.pick(*xy[0]) == target
    qtbot.mouseClick(viewport, Qt.LeftButton, pos=QPointF(*xy[0]).toPoint())
    assert window.session.snapped == target
    np.testing.assert_array_equal(window.session.camera.c2w, scene.c2w[target])
    assert viewport.pick(-1000, -1000) is None


def test_a_bad_drop_changes_nothing_and_says_why(qtbot, make_window, model, scene, tmp_path):
    window = make_window(scene, model)
    session = window.session
    state = (session.views, session.model, session.context, session.camera)
    (tmp_path / "notes.txt").write_text("hello")
    for bad in ([tmp_path / "notes.txt"], [tmp_path / "missing"], [tmp_path / "notes.txt", scene_photo(tmp_path, scene)]):
        count = len(session.messages)
        drop(window, bad)
        assert (session.views, session.model, session.context, session.camera) == state
        assert len(session.messages) == count + 1 and session.messages[-1].level == "error"
        assert window.messages.visible_rows()[0].message is session.messages[-1]


def scene_photo(tmp_path, scene):
    from PIL import Image
    path = tmp_path / "photo.png"
    Image.fromarray(scene.images[0]).save(path)
    return path


def test_unposed_photos_offer_pose_estimation(qtbot, make_window, scene, tmp_path):
    window = make_window(scene)
    photos = [scene_photo(tmp_path, scene)]
    drop(window, photos)
    offer = window.session.messages[-1]
    assert offer.action_label == "Estimate poses" and window.session.views is scene


def test_exports_write_playable_files(qtbot, make_window, model, scene, tmp_path):
    window = make_window(scene, model)
    wait_full(qtbot, window)
    assert window.export_png(tmp_path / "views.png")
    assert iio.imread(tmp_path / "views.png").ndim == 3
    window.timeline.seed_from_views()
    path_poses = window.timeline.path.frames(fps=1)
    for name, poses in (("orbit.mp4", window.orbit_poses(6)), ("path.gif", path_poses)):
        with qtbot.waitSignal(window.jobDone, timeout=30000) as signal:
            assert window.render_video(tmp_path / name, poses)
        assert signal.args == ["video", True]
        assert iio.imread(tmp_path / name).shape[0] == len(poses)


def test_child_process_progress_and_cancel(qtbot, make_window, scene, tmp_path):
    window = make_window(scene)
    out = tmp_path / "dataset"
    args = ["-m", "gqn", "scenes", "--kind", "shepard-metzler-7", "--scenes", "100000", "--views", "2",
            "--size", "16", "--out", str(out), "--json"]
    job = window.run_child("Generating scenes", args, lambda result: None)
    with qtbot.waitSignal(job.progress, timeout=30000):
        pass
    qtbot.waitUntil(lambda: window.job_panel.bar.maximum() > 0)
    assert window.job_panel.isVisible()
    with qtbot.waitSignal(window.jobDone, timeout=15000) as signal:
        window.job_panel.cancel_button.click()
    assert signal.args == ["Generating scenes", False]
    assert "cancelled" in window.session.messages[-1].text and window.job is None
    assert not window.job_panel.isVisible() and not out.exists()


def test_a_crashed_child_is_a_message(qtbot, make_window, scene):
    window = make_window(scene)
    with qtbot.waitSignal(window.jobDone, timeout=15000):
        window.run_child("Fitting", ["-c", "import sys; print('{\"event\": \"progress\"}'); sys.exit(3)"],
                         lambda result: None)
    assert window.session.messages[-1].level == "error" and "exit code 3" in window.session.messages[-1].text


def test_closing_with_a_busy_worker_exits_cleanly(qtbot, make_window, model, scene, tmp_path):
    window = make_window(scene, model)
    assert window.render_video(tmp_path / "long.gif", window.orbit_poses(2000))
    qtbot.waitUntil(lambda: window.job_panel.bar.value() > 0, timeout=20000)
    window.session.orbit(10.0, 0.0)
    window.close()
    assert window.worker.isFinished()
    assert not (tmp_path / "long.gif").exists()


def test_photos_without_poses_get_them_from_a_child_process(qtbot, make_window, tmp_path):
    from PIL import Image
    from gqn.data.photo_scene import render_photos
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, image in enumerate(render_photos(8, 320, 240)[0]):
        Image.fromarray(image).save(folder / f"photo_{i:02d}.jpg", quality=95)
    window = make_window()
    drop(window, [folder])
    offer = window.session.messages[-1]
    assert offer.action_label == "Estimate poses" and window.session.views is None
    with qtbot.waitSignal(window.jobDone, timeout=90000) as signal:
        offer.action()
        assert window.job_panel.isVisible()
    assert signal.args == ["Estimating camera poses", True], window.session.messages[-1].text
    views = window.session.views
    assert views is not None and len(views) >= 2
    assert window.viewport._corners.shape[0] == len(views)


def test_fitting_loads_the_fitted_model_and_plots_it(qtbot, make_window, model_dir, tmp_path):
    from gqn.cli import main as gqn_main
    dataset = tmp_path / "dataset"
    assert gqn_main(["scenes", "--kind", "shepard-metzler-7", "--scenes", "2", "--views", "6", "--size", "32",
                     "--out", str(dataset)]) == 0
    window = make_window()
    window.open_paths([str(model_dir)])
    window.open_paths([str(dataset)])
    first = window.session.views
    assert window.step_scene(1) and window.session.views.meta["scene"] == 1
    assert not window.step_scene(1) and "scene 2" in window.session.messages[-1].text  # there are two
    assert window.step_scene(-1)
    np.testing.assert_array_equal(window.session.views.images, first.images)
    before = window.session.model
    window.fit_action.trigger()  # from the menu: the options first
    dialog = window.findChild(FitDialog)
    assert dialog.isVisible() and Path(dialog.out.text()).parent == tmp_path  # beside the dataset
    dialog.steps.setValue(4)
    out = dialog.out.text()
    with qtbot.waitSignal(window.jobDone, timeout=90000) as signal:
        qtbot.mouseClick(dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok), Qt.LeftButton)
        assert window.job.args[window.job.args.index("--steps") + 1] == "4"
    assert signal.args == ["Fitting the model to this scene", True], window.session.messages[-1].text
    assert window.session.model is not before
    assert window.session.model_path == out
    assert window.job_panel.history["loss"], "the loss was not plotted"


def test_sparse_points_are_shown_subsampled(qtbot, make_window, photo_scene):
    from explorer.capture import MAX_POINTS
    rng = np.random.default_rng(0)
    photo_scene.points = rng.normal(size=(MAX_POINTS + 500, 3)).astype(np.float32)
    photo_scene.point_colors = rng.integers(0, 256, (MAX_POINTS + 500, 3), dtype=np.uint8)
    window = make_window(photo_scene)
    assert len(window.viewport.points.pos) == MAX_POINTS


def test_viewport_reports_its_camera_and_looks_through_the_imagined_one(qtbot, make_window, scene):
    window = make_window(scene)
    viewport = window.viewport
    with qtbot.waitSignal(viewport.cameraChanged):
        qtbot.mousePress(viewport, Qt.LeftButton, pos=viewport.rect().center())
        qtbot.mouseMove(viewport, viewport.rect().center() + QPointF(40, 10).toPoint())
        qtbot.mouseRelease(viewport, Qt.LeftButton)
    before = viewport.camera_state()
    window.session.orbit(30.0, 0.0)
    window.look_action.trigger()
    np.testing.assert_allclose(np.array(viewport.cameraPosition().toTuple()), window.session.camera.position, atol=1e-4)
    assert viewport.camera_state() != before
    viewport.axis_view("top")
    assert viewport.camera_state()["elevation"] == 90


@pytest.mark.parametrize("height, width", [(72, 40), (40, 72)])
def test_a_capture_renders_at_its_own_aspect_beside_the_classical_view(qtbot, make_window, model, height, width):
    from gqn import ViewSet, camera
    from gqn.data.photo_scene import default_cameras, make_scene, render
    scene, c2w = make_scene(4), default_cameras(10, 4, arc_deg=60.0)
    intrinsics = camera.intrinsics_from_fov(width, height, 50.0) + [0.05 * width, 0, 0, 0]
    images = np.stack([render(scene, pose, intrinsics, width, height) for pose in c2w])
    capture = ViewSet(images, c2w, np.tile(intrinsics, (10, 1)), source="capture", meta={"format": "nerf"})
    window = make_window(capture, model)
    session = window.session
    assert session.snapped is not None and session.snapped not in session.context   # a held-out photo to compare
    prediction = wait_full(qtbot, window, session.camera.c2w)
    long_side = model.config.image_size
    expected = (long_side, round(long_side * width / height)) if height > width else (round(long_side * height / width), long_side)
    assert prediction.mean.shape[:2] == expected and prediction.classical.shape[:2] == expected
    panel = window.view_panel
    for pane in (panel.generated, panel.classical, panel.real, panel.difference, panel.classical_difference):
        pixmap = pane.view.pixmap
        assert pixmap is not None and (pixmap.height() > pixmap.width()) == (height > width), pane.title.text()
    assert "classical" in panel.score_note.text() and panel.psnr.text().endswith("dB")
    assert any(m.topic == "model-kind" and "not photos" in m.text for m in session.messages)


def test_a_capture_the_model_cannot_place_says_why_and_clears_the_panels(qtbot, make_window, model, scene, photo_scene):
    window = make_window(scene, model)
    wait_full(qtbot, window, window.session.camera.c2w)
    assert window.view_panel.generated.view.pixmap is not None
    outward = photo_scene[:]
    outward.c2w = outward.c2w.copy()
    outward.c2w[:, :3, 1:3] *= -1                  # every camera turned away from the scene
    window.session.set_views(outward)
    qtbot.waitUntil(lambda: any("common region" in m.text for m in window.session.messages), timeout=20000)
    panel = window.view_panel
    assert all(pane.view.pixmap is None for pane in (panel.generated, panel.classical, panel.difference))
    assert "common region" in panel.generated.view.placeholder and panel.psnr.text() == "–"
    window.session.set_views(scene)                 # and it keeps working
    assert wait_full(qtbot, window, window.session.camera.c2w).mean is not None
