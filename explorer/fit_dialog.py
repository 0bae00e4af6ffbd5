"""Fit the model to the open scene: a dialog for the options, then `gqn fit` as a child process whose
every new checkpoint is loaded (off the UI thread) into the session, so the Generated panel shows the
model improving while the job panel plots held-out PSNR against the baselines. Cancel keeps the last
checkpoint; the run folder goes on Open Recent."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QCheckBox, QDialog, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QSpinBox,
)

from explorer import dialogs, fitting, loading
from explorer.fitting import FitOptions
from explorer.session import Session
from gqn.errors import GQNError

TITLE = "Fitting the model to this scene"


class FitDialog(QDialog):
    """Start model, how long (steps, and optionally a time budget), how often to refresh the view,
    how many photos to hold out, and where the fitted model goes."""

    chosen = Signal(object)   # FitOptions, on Fit once they are good

    def __init__(self, model: str, out: Path, views: int, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fit the model to this scene")
        self.views = views
        self.model = QLineEdit(model)
        self.model.setToolTip("The model (or the run of an earlier fit) the fit starts from")
        self.steps = QSpinBox()
        self.steps.setRange(0, 1_000_000)
        self.steps.setSpecialValueText("as many steps as fit in the time")   # 0: gqn fit sizes the schedule
        self.steps.setValue(0)
        self.steps.setSuffix(" steps")
        self.steps.setToolTip("Training steps; at the lowest value, as many as fit in the time budget "
                              "(the schedule is sized to end then)")
        self.steps.valueChanged.connect(self._suggest_preview)
        self.budget = QCheckBox("Stop after")
        self.budget.setToolTip("A time budget: the fit stops (and keeps its checkpoint) when it runs out, "
                               "even before its steps are done")
        self.budget.setChecked(True)
        self.minutes = QDoubleSpinBox()
        self.minutes.setRange(0.1, 24 * 60)
        self.minutes.setValue(fitting.DEFAULT_MINUTES)
        self.minutes.setSuffix(" min")
        self.budget.toggled.connect(self.minutes.setEnabled)
        self.preview = QSpinBox()
        self.preview.setRange(0, 1_000_000)
        self.preview.setSpecialValueText(f"{fitting.CHECKPOINTS_SHOWN} times in the run")
        self.preview.setSuffix(" steps")
        self.preview.setToolTip("A checkpoint this often: each one is shown in the Generated panel and scored "
                                "on the held-out photos")
        self._suggest_preview(self.steps.value())
        self.holdout = QSpinBox()
        self.holdout.setRange(0, max(views - 2, 0))
        self.holdout.setValue(min(2, max(views - 2, 0)))
        self.holdout.setSuffix(" views")
        self.holdout.setToolTip("Kept out of training to measure the model on: the PSNR curve")
        self.out = QLineEdit(str(out))
        self.out.setToolTip("A new folder for the run: checkpoints, metrics.jsonl and the fitted model")
        self.error = dialogs.error_label()
        form = QFormLayout()
        form.addRow("Start from", self._with_browse(self.model, self._browse_model))
        form.addRow("Train for", self.steps)
        budget = QHBoxLayout()
        budget.addWidget(self.budget)
        budget.addWidget(self.minutes, 1)
        form.addRow("", budget)
        form.addRow("Refresh the view every", self.preview)
        form.addRow("Hold out", self.holdout)
        form.addRow("Save the fitted model in", self._with_browse(self.out, self._browse_out))
        dialogs.lay_out(self, form, self.error, "Fit")
        self.setMinimumWidth(560)

    @staticmethod
    def _with_browse(edit: QLineEdit, slot) -> QHBoxLayout:
        button = QPushButton("Browse…")
        button.clicked.connect(slot)
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(button)
        return row

    def _suggest_preview(self, steps: int) -> None:
        self.preview.setValue(steps // fitting.CHECKPOINTS_SHOWN)   # 0: CHECKPOINTS_SHOWN in the run

    def _browse_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Start from a model folder or fit run", self.model.text())
        if folder:
            self.model.setText(folder)

    def _browse_out(self) -> None:
        """Choose the folder to put the run in; the run keeps its own new name."""
        current = Path(self.out.text())
        folder = QFileDialog.getExistingDirectory(self, "Put the fitted model in", str(current.parent))
        if folder:
            self.out.setText(str(Path(folder) / current.name))

    def options(self) -> FitOptions:
        """The options as entered; GQNError says what is wrong with them."""
        model, out = Path(self.model.text().strip()), Path(self.out.text().strip())
        if not loading.is_model_folder(model):
            raise GQNError(f"{model}: not a model folder (model.safetensors + config.json) or a fit run")
        if not self.out.text().strip():
            raise GQNError("choose a folder for the fitted model")
        if out.exists() and any(out.iterdir()):
            raise GQNError(f"{out}: already holds files; choose a new folder")
        minutes = self.minutes.value() if self.budget.isChecked() else None
        if not self.steps.value() and minutes is None:
            raise GQNError("give the fit a number of steps or a time budget")
        return FitOptions(str(model), out, self.steps.value() or None, minutes, self.preview.value() or None,
                          self.holdout.value())

    def accept(self) -> None:
        try:
            options = self.options()
        except GQNError as error:
            self.error.setText(str(error))
            return
        super().accept()
        self.chosen.emit(options)


class CheckpointLoader(QObject):
    """Loads a run's newest checkpoint in a thread whenever asked and there is a new one; hands the
    model on unless stopped meanwhile (so a late preview never replaces the final model)."""

    loaded = Signal(object, int)      # model, step
    _done = Signal(object, str)       # from the loading thread

    def __init__(self, run: Path, parent=None) -> None:
        super().__init__(parent)
        self.run = Path(run)
        self.shown: str | None = None
        self.stopped = False
        self._busy = False
        self._done.connect(self._deliver)

    def check(self, *_) -> None:
        name = fitting.latest_checkpoint(self.run)
        if self.stopped or self._busy or name is None or name == self.shown:
            return
        self._busy = True
        threading.Thread(target=self._load, args=(name,), daemon=True).start()

    def _load(self, name: str) -> None:
        from gqn import load_model
        try:
            model = load_model(self.run / name)
        except (GQNError, OSError):  # rotated away while it was read: the next check takes the newer one
            model = None
        self._done.emit(model, name)

    def _deliver(self, model, name: str) -> None:
        self._busy = False
        if model is None or self.stopped:
            return
        self.shown = name
        self.loaded.emit(model, fitting.checkpoint_step(name))

    def stop(self) -> None:
        self.stopped = True


class FitRunner(QObject):
    """One fit at a time for a window: dialog, child job, live checkpoints, the result."""

    previewed = Signal(int)   # a checkpoint of the running fit was loaded into the session: its step

    def __init__(self, session: Session, run_child: Callable, remember: Callable[[str], None],
                 fallback_folder: Callable[[], Path], parent=None) -> None:
        super().__init__(parent)
        self.session, self.run_child, self.remember = session, run_child, remember
        self.fallback_folder = fallback_folder
        self.loader: CheckpointLoader | None = None
        self.options: FitOptions | None = None

    def open_dialog(self, parent=None) -> FitDialog | None:
        s = self.session
        if s.model is None or s.views is None:
            s.message("Fitting needs a model and a scene: open both first.", "warning")
            return None
        if fitting.scene_args(s.views) is None:
            s.message(f"This scene ({s.scene_name}) has no files on disk to fit to: open it from a folder or "
                      "dataset.", "warning")
            return None
        out = fitting.default_out(s.views, self.fallback_folder())
        dialog = FitDialog(str(s.model_path), out, len(s.views), parent)
        dialog.chosen.connect(self.start)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def start(self, options: FitOptions):
        """Run `gqn fit` with `options` on the session's scene; returns the ChildJob (None if refused)."""
        scene = fitting.scene_args(self.session.views) if self.session.views is not None else None
        if scene is None:
            self.session.message("Fitting needs a scene with files on disk.", "warning")
            return None
        job = self.run_child(TITLE, options.args(scene), self._finished, with_plot=True)
        if job is None:
            return None
        self.options = options
        self.loader = CheckpointLoader(options.out, self)
        self.loader.loaded.connect(self._show_checkpoint)
        job.progress.connect(self.loader.check)
        job.failed.connect(self._stop)
        job.cancelled.connect(self._cancelled)
        return job

    def _show_checkpoint(self, model, step: int) -> None:
        run = str(self.options.out)
        self.session.set_model(model, run)
        self.session.message(f"Fitting: the Generated view shows the model at step {step}.", topic="fit")
        self.previewed.emit(step)

    def _stop(self, *_) -> None:
        if self.loader is not None:
            self.loader.stop()

    def _finished(self, result: dict) -> None:
        """The fit ended: load its final model (the job's on_result)."""
        from gqn import load_model
        self._stop()
        run = str(result.get("run") or self.options.out)
        self.session.set_model(load_model(run), run)
        self.remember(run)
        ours, nearest = result.get("psnr"), result.get("baseline_nearest_psnr")
        scores = f" Held-out PSNR {ours:.2f} dB, nearest photo {nearest:.2f} dB." \
            if isinstance(ours, (int, float)) and isinstance(nearest, (int, float)) else ""
        self.session.message(f"Loaded the model fitted to this scene (saved in {run}; Open Recent has it).{scores}",
                             topic="fit")

    def _cancelled(self) -> None:
        """Cancel keeps the last checkpoint: load it, and remember the run."""
        from gqn import load_model
        self._stop()
        run = self.options.out
        name = fitting.latest_checkpoint(run)
        if name is None:
            self.session.message("Fitting cancelled before its first checkpoint: nothing was kept.", topic="fit")
            return
        self.session.set_model(load_model(run), str(run))
        self.remember(str(run))
        self.session.message(f"Fitting cancelled: the model at step {fitting.checkpoint_step(name)} is loaded "
                             f"(kept in {run}; Open Recent has it).", topic="fit")
