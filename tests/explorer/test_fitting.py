"""Fitting with options and a live preview: the command the dialog makes, where the model goes, the
Generated view refreshed from each checkpoint, cancel keeping the last one, Open Recent."""

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from explorer import fitting
from explorer.fit_dialog import TITLE, FitDialog
from explorer.fitting import FitOptions
from gqn.data.viewset import ViewSet
from gqn.scenes import render_views


def ok_button(dialog):
    return dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok)


def test_options_make_the_gqn_fit_command(tmp_path):
    options = FitOptions("models/m", tmp_path / "run", steps=120, minutes=2.5, preview_every=12, holdout=3)
    args = options.args(["--views", "scene"])
    assert args[:3] == ["-m", "gqn", "fit"] and args[-2:] == ["--max-minutes", "2.5"]
    def value(flag):
        return args[args.index(flag) + 1]
    assert [value(f) for f in ("--model", "--views", "--out", "--steps", "--checkpoint-every", "--holdout")] == \
        ["models/m", "scene", str(tmp_path / "run"), "120", "12", "3"]
    assert "--json" in args
    assert "--max-minutes" not in FitOptions("m", tmp_path).args(["--views", "scene"])


def test_the_fitted_model_goes_beside_the_capture(tmp_path, scene, scene_folder):
    from gqn import load_views
    views = load_views(scene_folder)
    out = fitting.default_out(views, tmp_path / "app", now=0)
    assert out.parent == scene_folder.parent and out.name.startswith("scene-fit-")
    colmap = ViewSet(scene.images, scene.c2w, source=str(scene_folder / "sparse" / "0"))
    (scene_folder / "sparse" / "0").mkdir(parents=True)
    assert fitting.default_out(colmap, tmp_path / "app").parent == scene_folder.parent
    dataset = ViewSet(scene.images, scene.c2w, meta={"dataset": str(tmp_path / "sm7"), "scene": 3})
    (tmp_path / "sm7").mkdir()
    assert fitting.default_out(dataset, tmp_path / "app").name.startswith("sm7-scene3-fit-")
    demo = ViewSet(scene.images, scene.c2w, meta={"dataset": str(fitting.RESOURCES / "scenes" / "shepard-metzler-7")})
    assert fitting.default_out(demo, tmp_path / "app").parent == tmp_path / "app"  # never into the app's files
    assert fitting.default_out(scene, tmp_path / "app").parent == tmp_path / "app"  # no files at all


def test_latest_checkpoint(tmp_path):
    assert fitting.latest_checkpoint(tmp_path) is None
    (tmp_path / "latest").write_text("checkpoints/step-00000040\n")
    assert fitting.latest_checkpoint(tmp_path) == "checkpoints/step-00000040"
    assert fitting.checkpoint_step("checkpoints/step-00000040") == 40


def test_the_dialog_refuses_what_cannot_work(qtbot, make_window, model, model_dir, scene_folder, tmp_path):
    window = make_window(model=model, model_path=model_dir)
    window.open_paths([str(scene_folder)])
    dialog = window.fit_dialog()
    dialog.model.setText(str(tmp_path))
    qtbot.mouseClick(ok_button(dialog), Qt.LeftButton)
    assert dialog.isVisible() and "not a model folder" in dialog.error.text() and window.job is None
    dialog.model.setText(window.session.model_path)
    dialog.out.setText(str(scene_folder))  # holds the photos
    qtbot.mouseClick(ok_button(dialog), Qt.LeftButton)
    assert dialog.isVisible() and "already holds files" in dialog.error.text() and window.job is None
    dialog.reject()


def test_scene_without_files_cannot_be_fitted(qtbot, make_window, model):
    window = make_window(render_views("shepard-metzler-7", 1, 6, 32), model)
    assert window.fit_dialog() is None and "no files" in window.session.messages[-1].text


def test_live_checkpoints_then_cancel_keeps_the_last_and_open_recent_brings_it_back(
        qtbot, make_window, model, model_dir, scene_folder):
    window = make_window(model=model, model_path=model_dir)
    window.open_paths([str(scene_folder)])
    window.fit_action.trigger()  # the tool bar's "Fit model"
    dialog = window.findChild(FitDialog)
    assert dialog.model.text() == str(model_dir)
    dialog.steps.setValue(100000)
    assert dialog.preview.value() == 10000  # a tenth of the run by default
    dialog.preview.setValue(5)
    dialog.budget.setChecked(True)
    dialog.minutes.setValue(10)
    out = Path(dialog.out.text())
    qtbot.mouseClick(ok_button(dialog), Qt.LeftButton)
    assert window.job is not None and window.job.args[-2:] == ["--max-minutes", "10"]

    steps = []
    for _ in range(2):  # the Generated view follows the fit, checkpoint after checkpoint
        with qtbot.waitSignal(window.fitting.previewed, timeout=120000) as signal:
            pass
        steps.append(signal.args[0])
        assert window.session.model_path == str(out) and window.session.model is not model
        assert window.job is not None  # still fitting
    assert steps[1] > steps[0] >= 5
    qtbot.waitUntil(lambda: len(window.job_panel.history["psnr"]) >= 1, timeout=30000)
    assert window.job_panel.history["baseline_nearest_psnr"], "the nearest-photo baseline was not plotted"
    shown = window.session.model
    with qtbot.waitSignal(window.viewDrawn, timeout=30000):
        pass  # the live view is drawn with the fitted checkpoint

    with qtbot.waitSignal(window.jobDone, timeout=30000) as done:
        qtbot.mouseClick(window.job_panel.cancel_button, Qt.LeftButton)
    assert done.args == [TITLE, False]
    kept = fitting.checkpoint_step(fitting.latest_checkpoint(out))
    assert kept >= steps[1]
    assert window.session.model_path == str(out) and window.session.model is not shown
    assert f"at step {kept} is loaded" in window.messages.visible_rows()[0].message.text
    assert window.recent_paths()[0] == str(out)

    window.open_paths([str(model_dir)])
    assert window.session.model_path == str(model_dir)
    window._fill_recent()
    entry = next(a for a in window.recent_menu.actions() if a.text() == str(out))
    entry.trigger()  # Open Recent › the fitted run
    assert window.session.model_path == str(out)
    from gqn import load_model
    for name, weights in load_model(out).state_dict().items():
        np.testing.assert_array_equal(window.session.model.state_dict()[name].numpy(), weights.numpy())


def test_the_curve_shows_the_classical_baseline_when_fit_reports_it(qtbot, make_window):
    window = make_window()
    panel = window.job_panel
    panel.begin(TITLE, with_plot=True)
    for step, psnr in ((10, 14.0), (20, 15.5)):
        panel.update_progress({"event": "progress", "done": step, "total": 20, "step": step, "loss": 1.0,
                               "psnr": psnr, "baseline_nearest_psnr": 13.0, "baseline_ibr_psnr": 14.5})
    x, y = panel.ibr_curve.getData()
    assert list(x) == [10.0, 20.0] and list(y) == [14.5, 14.5]
    assert list(panel.psnr_curve.getData()[1]) == [14.0, 15.5]
    panel.end()
