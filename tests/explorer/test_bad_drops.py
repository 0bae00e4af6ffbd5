"""Issue 12 in the app: every bad drop is a message and the app goes on; a new scene, or a view the
model could not imagine, never leaves another scene's pictures and scores on screen. The bad inputs
are the fuzz suite's: valid seeds of every format mutated by its seeded mutators (tests/fuzz)."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer_helpers import wait_full, write_transforms
from test_main_window import drop

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))  # the fuzz suite's seeds and mutators
from fuzz_mutators import case_rng, mutate  # noqa: E402
from fuzz_seeds import make_seeds  # noqa: E402

MUTANTS_PER_FORMAT = 3


def panes_are_empty(window) -> bool:
    panel = window.view_panel
    return (all(pane.view.pixmap is None for pane in (panel.generated, panel.real, panel.difference, panel.uncertainty))
            and panel.psnr.text() == "–" and panel.ssim.text() == "–")


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return make_seeds(tmp_path_factory.mktemp("seeds"))


def test_every_bad_drop_is_a_message_and_the_app_goes_on(qtbot, make_window, model, scene, seeds, tmp_path):
    window = make_window(scene, model)
    session = window.session
    for fmt, seed in seeds.items():
        for number in range(MUTANTS_PER_FORMAT):
            case = tmp_path / f"{fmt}-{number}"
            shutil.copytree(seed.folder, case)
            mutate(case, case_rng(fmt, number))
            views, model, count = session.views, session.model, len(session.messages)
            drop(window, [case / seed.path.relative_to(seed.folder)])
            new = session.messages[count:]
            assert not any(m.text.startswith("Could not open") for m in new), new  # a raw exception's message
            if session.views is views and session.model is model:  # refused: said why, naming what was dropped
                assert any(m.level in ("error", "warning") and str(case) in m.text for m in new), (fmt, number, new)
            elif session.views is not views:  # a new scene: nothing of the previous one is shown
                assert panes_are_empty(window)
            assert window.isVisible()


def test_a_smaller_scene_after_snapping_to_a_late_view(qtbot, make_window, model, scene, tmp_path):
    """The snapped index of the old scene (view 7 of 8) used to reach the status bar of the new one
    (3 views): an IndexError inside dropEvent, which took PySide down with a segfault."""
    window = make_window(scene, model)
    window.session.snap_to(len(scene) - 1)
    drop(window, [write_transforms(tmp_path / "small", scene[:3])])
    assert len(window.session.views) == 3 and window.session.snapped in (None, 0, 1, 2)
    assert "3 views" in window.scene_label.text()


def test_a_new_scene_clears_the_previous_pictures_and_scores(qtbot, make_window, model, photo_scene, scene, tmp_path):
    window = make_window(photo_scene, model)
    session = window.session
    held_out = next(i for i in range(len(photo_scene)) if i not in session.context)
    session.snap_to(held_out)
    wait_full(qtbot, window, photo_scene.c2w[held_out])
    assert window.view_panel.psnr.text().endswith("dB") and not panes_are_empty(window)
    flipped = dataclasses.replace(scene, images=np.ascontiguousarray(scene.images[:, ::-1]))
    drop(window, [write_transforms(tmp_path / "other", flipped)])
    assert panes_are_empty(window)  # at once, before the new scene's first view arrives
    prediction = wait_full(qtbot, window, session.camera.c2w)
    np.testing.assert_array_equal(prediction.c2w, session.camera.c2w)


def test_a_view_the_model_cannot_imagine_clears_the_panes(qtbot, make_window, photo_scene, tmp_path):
    """A model trained at 45° field of view, a capture of 8°: its photos cannot be cropped to match.
    Either the view fails (then nothing stale is shown) or, if the model learns to take any camera,
    what is shown is the new scene's view."""
    from gqn import GQN, presets, load_model
    config = dataclasses.replace(presets["tiny"], trained_on={"kind": "shepard-metzler-7", "fov_deg": 45.0,
                                                               "camera_radius": 4.0})
    model = load_model(GQN(config).save(tmp_path / "model"))
    window = make_window(photo_scene, model)
    session = window.session
    session.snap_to(next(i for i in range(len(photo_scene)) if i not in session.context))
    wait_full(qtbot, window, session.camera.c2w)
    narrow = dataclasses.replace(photo_scene, intrinsics=photo_scene.intrinsics * [6, 6, 1, 1])
    failures = len([m for m in session.messages if m.level == "error"])
    drop(window, [write_transforms(tmp_path / "narrow", narrow)])
    qtbot.waitUntil(lambda: len([m for m in session.messages if m.level == "error"]) > failures or (
        window.last_prediction is not None and not window.last_prediction.draft), timeout=20000)
    if window.last_prediction is None:
        assert panes_are_empty(window)
    else:
        np.testing.assert_array_equal(window.last_prediction.c2w, session.camera.c2w)


def test_render_path_refuses_a_wrong_video_name_before_any_work(tmp_path, capsys):
    from explorer.app import main
    # neither the scene nor the model exists: the name is what is refused, so nothing was loaded
    code = main([str(tmp_path / "no-scene"), "--model", str(tmp_path / "no-model"),
                 "--render-path", str(tmp_path / "x.avi")])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == f"gqn-explorer: error: {tmp_path / 'x.avi'}: choose a .mp4 or .gif file name"
    assert list(tmp_path.iterdir()) == []
