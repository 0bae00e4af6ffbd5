"""The main window: the viewport, the view panel, the strip of views, messages, jobs and exports.

It only shows the Session and turns user actions into Session calls; inference runs on the worker,
long jobs in child processes.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog, QLabel, QMainWindow, QSlider, QSplitter, QToolBar, QVBoxLayout, QWidget,
)

from explorer import export, loading, theme
from explorer.compare import compare
from explorer.fit_dialog import FitDialog, FitRunner
from explorer.help import HelpDialog
from explorer.inference import Prediction, QueryCamera
from explorer.jobs import ChildJob, JobPanel
from explorer.labels import ShrinkingLabel
from explorer.messages import MessageArea
from explorer.nextview import NextViewPanel
from explorer.region import RegionPanel
from explorer.session import Session
from explorer.timeline import TimelinePanel
from explorer.thumbnails import ThumbnailStrip
from explorer.view_panel import ERROR_RANGE, UNCERTAINTY_CMAP, UNCERTAINTY_RANGE, ViewPanel, heat
from explorer.viewport import Viewport
from gqn.errors import GQNError

SAMPLES = 8              # samples averaged for the full view
SETTLE_MS = 250          # the camera counts as stopped after this long without a move
VIDEO_SAMPLES = 4
RECENT_LIMIT = 10
SLIDER_OCTAVE = 12.5     # frustum slider steps per doubling; its middle (50) is the size the camera spacing gives
HINT = ("Drag the Generated image to move the imagined camera (scroll: nearer/farther). Click a frustum "
        "or a thumbnail to snap onto a real camera; tick thumbnails to choose the model's context views.")


def short_name(name: str) -> str:
    """A view's name without the folders readers keep in it ("../photos/p01.jpg" -> "p01.jpg")."""
    return Path(name).name


class MainWindow(QMainWindow):
    viewDrawn = Signal(object)        # a Prediction was drawn in the view panel
    jobDone = Signal(str, bool)       # a child job or video ended: (title, succeeded)

    def __init__(self, samples: int = SAMPLES, settle_ms: int = SETTLE_MS) -> None:
        super().__init__()
        self.session = Session()
        self.samples = samples
        self.settings = QSettings("gqn-explorer", "explorer")
        self.data_dir = Path(QStandardPaths.writableLocation(QStandardPaths.AppLocalDataLocation))  # poses, fits
        self.job: ChildJob | None = None
        self.job_result_handler = None
        self.video_cancel = None
        self.shown_seq = 0
        self.last_prediction: Prediction | None = None
        self.setWindowTitle("GQN Scene Explorer")
        self.resize(1280, 800)
        self.setAcceptDrops(True)

        from explorer.worker import InferenceWorker
        self.worker = InferenceWorker(self)
        self.worker.prediction.connect(self._on_prediction)
        self.worker.failed.connect(self._on_inference_failed)
        self.worker.job_progress.connect(self._on_video_progress)
        self.worker.job_finished.connect(self._on_video_finished)
        self.worker.job_failed.connect(self._on_video_failed)
        self.worker.start()
        self.settle = QTimer(self)
        self.settle.setSingleShot(True)
        self.settle.setInterval(settle_ms)
        self.settle.timeout.connect(self.request_full)

        self._build_widgets()
        self._build_actions()
        events = self.session.events
        events.views.connect(self._on_views)
        events.model.connect(self._on_model)
        events.context.connect(self.request_view)
        events.camera.connect(self.request_view)
        events.region.connect(self.request_view)
        events.message.connect(self.messages.add)
        events.context.connect(self._update_status)
        events.camera.connect(self._update_status)

    # --- layout ------------------------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.viewport = Viewport(self.session)
        self.viewport.frustumClicked.connect(self.session.snap_to)
        self.view_panel = ViewPanel()
        generated = self.view_panel.generated_view
        generated.orbitRequested.connect(self.session.orbit)
        generated.zoomRequested.connect(self.session.zoom)
        self.job_panel = JobPanel()
        self.next_view = NextViewPanel(self.session, self.viewport)
        self.messages = MessageArea()
        self.thumbnails = ThumbnailStrip(self.session)
        self.region_panel = RegionPanel(self.session, self.settings)
        self.timeline = TimelinePanel(self.session)
        self.timeline.renderRequested.connect(self.render_video)
        self.timeline.changed.connect(self._show_timeline)
        self.timeline.hide()
        self.help_dialog: HelpDialog | None = None
        self.fitting = FitRunner(self.session, self.run_child, self._remember, self._fits_folder, self)

        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 6)
        left_column.setSpacing(6)
        left_column.addWidget(self.viewport, 1)
        left_column.addWidget(self.region_panel)
        left_column.addWidget(self.next_view)
        left_column.addWidget(self.job_panel)
        left_column.addWidget(self.messages)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(4, 8, 8, 6)
        column.setSpacing(8)
        column.addWidget(self.view_panel, 1)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 4)
        split.setSizes([700, 560])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(split, 1)
        layout.addWidget(self.timeline)
        layout.addWidget(self.thumbnails)
        self.setCentralWidget(central)

        self.scene_label, self.model_label, self.camera_label, self.timing_label = (ShrinkingLabel() for _ in range(4))
        for label in (self.scene_label, self.model_label, self.camera_label):
            self.statusBar().addWidget(label)
        self.statusBar().addPermanentWidget(self.timing_label)

    def _action(self, menu, text: str, slot, shortcut: str | None = None, tip: str | None = None,
                checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        menu.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self.open_action = self._action(file, "&Open scene or model…", self.open_dialog, "Ctrl+O",
                                        "Open a photo folder, transforms.json, COLMAP folder, dataset or model folder")
        self._action(file, "Open &photos…", self.open_photos_dialog, None, "Open image files to estimate their poses")
        self._action(file, "Open &model…", self.open_model_dialog, "Ctrl+M", "Open a model folder")
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(file, "&Next scene of the dataset", partial(self.step_scene, 1), "PgDown")
        self._action(file, "Pre&vious scene of the dataset", partial(self.step_scene, -1), "PgUp")
        file.addSeparator()
        self._action(file, "Export views as &PNG…", self.export_png_dialog, "Ctrl+E")
        self._action(file, "Render &orbit video…", self.render_orbit_dialog)
        file.addSeparator()
        self._action(file, "&Quit", self.close, "Ctrl+Q")

        view = bar.addMenu("&View")
        self._action(view, "&Reset view", self.viewport.reset_view, "Home", "Frame the whole scene")
        self._action(view, "&Top", partial(self.viewport.axis_view, "top"), "Ctrl+1")
        self._action(view, "&Front", partial(self.viewport.axis_view, "front"), "Ctrl+2")
        self._action(view, "&Side", partial(self.viewport.axis_view, "side"), "Ctrl+3")
        self.look_action = self._action(view, "&Look through imagined camera", self.viewport.look_through_imagined, "L",
                                        "Put the viewport's eye at the imagined camera")
        view.addSeparator()
        self.photos_action = self._action(view, "&Photos", self.session.set_show_photos, "P",
                                          checkable=True)
        self.photos_action.setChecked(True)
        self.geometry_action = self._action(view, "Scene &geometry", self.session.set_show_geometry, "G",
                                            "The true geometry of a procedural scene", checkable=True)
        self.geometry_action.setChecked(True)
        self._action(view, "&Larger frustums", partial(self.scale_frustums, 1.25), "]")
        self._action(view, "S&maller frustums", partial(self.scale_frustums, 1 / 1.25), "[")
        self.region_action = self._action(view, "Crop &region…", self.region_panel.setVisible, "C",
                                          "Limit what the model and the baselines consider to a box", checkable=True)

        cam = bar.addMenu("&Camera")
        for text, key, args in [("Orbit left", "A", (5, 0)), ("Orbit right", "D", (-5, 0)),
                                ("Orbit up", "W", (0, 5)), ("Orbit down", "S", (0, -5))]:
            self._action(cam, text, partial(self.session.orbit, *args), key)
        self._action(cam, "Move closer", partial(self.session.zoom, 0.9), "Q")
        self._action(cam, "Move farther", partial(self.session.zoom, 1 / 0.9), "E")
        cam.addSeparator()
        self._action(cam, "Snap to &next view", partial(self.session.step_snap, 1), "N")
        self._action(cam, "Snap to &previous view", partial(self.session.step_snap, -1), "B")
        self._action(cam, "&Reset imagined camera", self.session.reset_camera, "R")
        cam.addSeparator()
        self.timeline_action = self._action(cam, "Camera path &timeline", self.timeline.setVisible, "T",
                                            "Keyframes of a camera path: add, reorder, time, play, render",
                                            checkable=True)
        self._action(cam, "Camera path: &add keyframe at imagined camera", self.timeline.add_current, "K")
        self._action(cam, "Camera path: &play / pause", self.timeline.toggle_play, "Space")
        self._action(cam, "Camera path: &start from real cameras", self.timeline.seed_from_views)
        self._action(cam, "Camera path: &load JSON…", self.timeline.load_dialog)
        self._action(cam, "Camera path: sa&ve JSON…", self.timeline.save_dialog)
        self._action(cam, "Camera path: render &video…", self.timeline.render_dialog)

        model = bar.addMenu("&Model")
        self.fit_action = self._action(model, "&Fit model to this scene…", self.fit_dialog, None,
                                       "Fine-tune the model on this scene's views in a child process")
        self._action(model, "&Open model…", self.open_model_dialog)
        self.next_view_action = self._action(model, "Suggest the &next photo", self.next_view.start, "V",
                                             "Where a new photo would settle most of the model's doubt: "
                                             "a heat map over candidate cameras and the best one")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Mouse and keys", partial(self.show_help, "Mouse and keys"), "F1",
                     "Every mouse gesture and key of the explorer")
        self._action(help_menu, "What the &panels show", partial(self.show_help, "Panels"))
        self._action(help_menu, "&Opening files", partial(self.show_help, "Opening files"),
                     tip="Which formats open, and how")
        self._action(help_menu, "&What to try", partial(self.session.message, HINT))

        tools = QToolBar("Tools")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonTextOnly)
        self.addToolBar(tools)
        short = {self.open_action: "Open", self.photos_action: "Photos", self.geometry_action: "Geometry",
                 self.fit_action: "Fit model", self.look_action: "Look through", self.next_view_action: "Next view"}
        for action, text in short.items():
            action.setIconText(text)  # what the tool bar shows; menus keep the long text
        tools.addAction(self.open_action)
        tools.addSeparator()
        for action in view.actions()[:5]:
            tools.addAction(action)
        tools.addSeparator()
        tools.addAction(self.photos_action)
        tools.addAction(self.geometry_action)
        tools.addWidget(QLabel(" Size "))
        self.frustum_slider = QSlider(Qt.Horizontal)
        self.frustum_slider.setRange(1, 100)
        self.frustum_slider.setFixedWidth(110)
        self.frustum_slider.setToolTip("Size of the camera frustums and their photos")
        self.frustum_slider.valueChanged.connect(self._on_frustum_slider)
        tools.addWidget(self.frustum_slider)
        tools.addSeparator()
        tools.addAction(self.fit_action)
        tools.addAction(self.next_view_action)
        self.session.events.display.connect(self._sync_display_controls)

    # --- session events -----------------------------------------------------------------------------------

    def _on_views(self) -> None:
        self.shown_seq = self.worker.latest_seq  # nothing from the old scene may be drawn any more
        self.last_prediction = None
        self._clear_view("Imagining this scene…")
        self.viewport.reset_view()
        self._sync_display_controls()
        self._check_model_kind()
        self._update_status()

    def _on_model(self) -> None:
        self._check_model_kind()
        self._update_status()
        self.request_view()

    def _check_model_kind(self) -> None:
        """Say so when a model trained on procedural scenes is asked to paint photos."""
        s = self.session
        if s.model is None or s.views is None or s.is_procedural_format:
            return
        kind = s.model.config.trained_on.get("kind", "")
        if kind and "photo" not in kind:
            s.message(f"This model learned {kind} scenes, not photos: it paints a haze here. The Classical view "
                      "shows what the photos' geometry alone gives.", "warning", topic="model-kind")

    def _sync_display_controls(self) -> None:
        relative = self.session.frustum_size / self.session.default_frustum_size
        self.frustum_slider.blockSignals(True)
        self.frustum_slider.setValue(int(round(50 + SLIDER_OCTAVE * np.log2(relative))))
        self.frustum_slider.blockSignals(False)
        for action, checked in ((self.photos_action, self.session.show_photos),
                                (self.geometry_action, self.session.show_geometry)):
            action.blockSignals(True)
            action.setChecked(checked)
            action.blockSignals(False)
        self.geometry_action.setVisible(self.session.is_procedural)

    def scale_frustums(self, factor: float) -> None:
        self.session.set_frustum_size(self.session.frustum_size * factor)

    def _on_frustum_slider(self, value: int) -> None:
        self.session.set_frustum_size(self.session.default_frustum_size * 2 ** ((value - 50) / SLIDER_OCTAVE))

    def _update_status(self) -> None:
        s = self.session
        self.setWindowTitle(f"{s.scene_name} — GQN Scene Explorer" if s.views is not None else "GQN Scene Explorer")
        if s.views is None:
            self.scene_label.setText("No scene")
        else:
            skipped = f" · {len(s.views.skipped)} skipped" if s.views.skipped else ""
            self.scene_label.setText(f"{s.scene_name} · {len(s.views)} views · {len(s.context)} in context{skipped}")
        if s.model is None:
            self.model_label.setText("No model loaded")
            self.model_label.setStyleSheet(f"color: {theme.LEVELS['warning']}; font-weight: 600;")
        else:
            self.model_label.setText(f"Model: {Path(s.model_path or 'model').name} ({s.model.config.image_size} px)")
            self.model_label.setStyleSheet("")
        if s.camera is not None:
            where = f"on view {short_name(s.views.names[s.snapped])}" if s.snapped is not None else \
                f"az {(s.camera.azimuth + 180) % 360 - 180:.0f}° el {s.camera.elevation:.0f}° dist {s.camera.distance:.2f}"
            self.camera_label.setText(f"Imagined camera {where}")

    # --- live view: a draft while the camera moves, the full view once it stops -----------------------------

    def _submit(self, samples: int, draft: bool) -> int | None:
        s = self.session
        if s.views is None or s.camera is None:
            return None
        return self.worker.submit(s.model, s.views, s.context, s.camera.c2w, samples, draft, seed=0,
                                  truth=s.truth_renderer(), query=QueryCamera.from_pixels(*s.query_camera()))

    def request_view(self) -> None:
        if self.session.model is not None:
            self._submit(1, draft=True)
        self.settle.start()

    def request_full(self) -> None:
        self._submit(self.samples, draft=False)

    def _on_prediction(self, prediction: Prediction) -> None:
        if prediction.seq <= self.shown_seq:
            return
        self.shown_seq = prediction.seq
        self.last_prediction = prediction
        self._draw(prediction)
        self.viewDrawn.emit(prediction)

    def _draw(self, p: Prediction) -> None:
        s, panel = self.session, self.view_panel
        if p.mean is None:
            panel.generated.display(None, "", "", "No model loaded.\nOpen a model folder (File › Open model…) "
                                                    "or drop one here to see what a GQN imagines.")
        else:
            badge = "draft · 1 sample" if p.draft else f"mean of {p.samples} samples"
            panel.generated.display(p.mean, f"{1000 * p.seconds:.0f} ms · drag to orbit, scroll to zoom", badge)
            self.timing_label.setText(f"{'draft' if p.draft else 'full'} view in {1000 * p.seconds:.0f} ms")
        self.viewport.show_generated(p.mean)

        truth, caption, note = self._true_view(p)
        index, distance = s.views.nearest(p.c2w)
        if truth is not None:
            panel.real.display(truth, caption, "ground truth" if p.truth is not None else "held-out photo")
        else:
            panel.real.display(s.views.images[index], f"nearest photo {short_name(s.views.names[index])}, "
                               f"{distance:.2f} away", "nearest photo")
        result = compare(p.mean, truth, with_ssim=not p.draft) if (truth is not None and p.mean is not None) else None
        classical = compare(p.classical, truth, with_ssim=False) if (truth is not None and p.classical is not None) else None
        self._draw_classical(p, classical)
        if result is not None:
            panel.difference.display(heat(result.error, ERROR_RANGE), f"mean |error| {result.error.mean():.3f}",
                                     "|generated − real|")
            panel.set_scores(result.psnr, result.ssim, note, None if classical is None else classical.psnr)
        else:
            why = "No model loaded." if p.mean is None else \
                "No true view here: snap to a real camera left out of the context (click its frustum) to compare."
            panel.difference.display(None, "", "", why)
            panel.set_scores(None, None, "no model" if p.mean is None else note or "no true view at this pose")
        if p.std is not None:
            panel.uncertainty.display(heat(p.std, UNCERTAINTY_RANGE, UNCERTAINTY_CMAP), f"mean σ {p.std.mean():.3f}",
                                      f"spread of {p.samples} samples")
        else:
            panel.uncertainty.display(None, "", "", "No model loaded." if p.mean is None else
                                      "Computing the spread of samples…\n(shown when the camera stops)")

    def _draw_classical(self, p: Prediction, classical) -> None:
        """The plane-sweep rendering from the context photos (what geometry alone gives) and its error."""
        panel = self.view_panel
        if p.classical is None:
            why = "Shown when the camera stops." if p.draft else "Needs at least two context views."
            panel.classical.display(None, "", "", f"Plane-sweep rendering from the context photos.\n{why}")
            panel.classical_difference.display(None, "", "", "")
            return
        panel.classical.display(p.classical, "plane sweep over the nearest context photos", "no learning")
        if classical is None:
            panel.classical_difference.display(None, "", "", "No true view here to compare with.")
        else:
            panel.classical_difference.display(heat(classical.error, ERROR_RANGE),
                                               f"mean |error| {classical.error.mean():.3f}", "|classical − real|")

    def _true_view(self, p: Prediction) -> tuple[np.ndarray | None, str, str]:
        """(true image at p's pose or None, its caption, a note on the scores)."""
        s = self.session
        if p.truth is not None:
            return p.truth, "exact render at this pose", "against the exact render"
        if s.snapped is None or not np.array_equal(s.views.c2w[s.snapped], p.c2w):
            return None, "", ""
        name = short_name(s.views.names[s.snapped])
        if s.snapped in s.context:
            return None, "", f"{name} is a context view: untick it to score the model on it"
        return s.views.images[s.snapped], f"photo {name}, not given to the model", f"against photo {name}"

    def _clear_view(self, why: str) -> None:
        """Empty every pane and the scores: pictures of another scene or view never stay on screen."""
        self.view_panel.clear(why)
        self.viewport.show_generated(None)

    def _on_inference_failed(self, seq: int, text: str) -> None:
        if seq >= self.shown_seq:
            self.shown_seq = seq
            self.last_prediction = None
            self._clear_view(text)
            if not self.session.messages or self.session.messages[-1].text != text:
                self.session.message(text, "error")

    # --- opening things -------------------------------------------------------------------------------------

    def open_paths(self, paths: list[str]) -> bool:
        """Open scene/model/photos; on a bad path show why and change nothing."""
        self.setCursor(Qt.WaitCursor)
        try:
            opened = loading.open_paths(paths)
        except GQNError as error:
            self.session.message(str(error), "error")
            return False
        except Exception as error:  # a reader bug must not take the app down with it
            self.session.message(f"Could not open {', '.join(map(str, paths))}: {type(error).__name__}: {error}", "error")
            return False
        finally:
            self.unsetCursor()
        if opened.model is not None:
            self.session.set_model(opened.model, opened.model_path)
            self._remember(opened.model_path)
            self.session.message(f"Loaded model {opened.model_path}.", topic="model")
        if opened.views is not None:
            self.session.set_views(opened.views)
            self._remember(str(paths[0]) if len(paths) == 1 else opened.views.source)
            skipped = opened.views.skipped
            if skipped:
                names = ", ".join(f"{s['name']} ({s['reason']})" for s in skipped[:3])
                self.session.message(f"Skipped {len(skipped)} view(s): {names}{' …' if len(skipped) > 3 else ''}",
                                     "warning")
        if opened.unposed:
            what = f"{opened.unposed[0]} has" if len(opened.unposed) == 1 else f"{len(opened.unposed)} photos have"
            self.session.message(f"{what} no camera poses. Estimate them with structure from motion "
                                 "(COLMAP, in the background)?", "warning", "Estimate poses",
                                 partial(self.start_pose_estimation, opened.unposed))
        return True

    def step_scene(self, step: int) -> bool:
        """Open the next (+1) or previous (-1) scene of the dataset the current scene comes from."""
        meta = self.session.views.meta if self.session.views is not None else {}
        if "dataset" not in meta:
            self.session.message("This scene is not part of a dataset of scenes.", "warning")
            return False
        from gqn import load_views
        index = int(meta.get("scene", 0)) + step
        try:
            views = load_views(meta["dataset"], scene=index)
        except GQNError as error:
            self.session.message(str(error), "warning")
            return False
        self.session.set_views(views)
        return True

    def _remember(self, path: str | None) -> None:
        if not path:
            return
        recent = [path] + [p for p in self.recent_paths() if p != path]
        self.settings.setValue("recent", recent[:RECENT_LIMIT])

    def recent_paths(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_paths():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(partial(self.open_paths, [path]))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(nothing yet)").setEnabled(False)

    def open_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a scene or model folder")
        if folder:
            self.open_paths([folder])

    def open_photos_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open photos or a transforms.json", "",
                                                "Images or scenes (*.png *.jpg *.jpeg *.json *.tfrecord);;All files (*)")
        if files:
            self.open_paths(files)

    def open_model_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a model folder (model.safetensors + config.json)")
        if folder:
            self.open_paths([folder])

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and all(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls()]
        event.acceptProposedAction()
        self.open_paths(paths)

    # --- child jobs: pose estimation and fitting ---------------------------------------------------------------

    def run_child(self, title: str, args: list[str], on_result, with_plot: bool = False) -> ChildJob | None:
        """Start `python ARGS` as a child job with progress in the job panel; one job at a time.
        `on_result(result)` gets the job's last JSON line when it succeeds."""
        if self.job is not None or self.video_cancel is not None:
            self.session.message(f"{title} waits: another job is running. Cancel it first.", "warning")
            return None
        job = ChildJob(title, args, self)
        job.progress.connect(self.job_panel.update_progress)
        job.finished.connect(self._child_done)
        job.failed.connect(self._child_failed)
        job.cancelled.connect(self._child_cancelled)
        self.job_panel.begin(title, with_plot)
        self.job_panel.cancel_button.clicked.connect(job.cancel)
        self.job, self.job_result_handler = job, on_result
        job.start()
        return job

    def _end_child(self) -> str:
        job, self.job = self.job, None
        self.job_panel.cancel_button.clicked.disconnect()
        self.job_panel.end()
        job.deleteLater()
        return job.title

    def _child_done(self, result: dict) -> None:
        title, handler = self._end_child(), self.job_result_handler
        try:
            handler(result)
        except GQNError as error:
            self.session.message(str(error), "error")
            self.jobDone.emit(title, False)
            return
        self.jobDone.emit(title, True)

    def _child_failed(self, text: str) -> None:
        title = self._end_child()
        self.session.message(text, "error")
        self.jobDone.emit(title, False)

    def _child_cancelled(self) -> None:
        title = self._end_child()
        self.session.message(f"{title}: cancelled.")
        self.jobDone.emit(title, False)

    def start_pose_estimation(self, unposed: list[Path]) -> ChildJob | None:
        folder = loading.pose_input_folder([Path(p) for p in unposed])
        out = self.output_folder("poses", unposed[0].stem if len(unposed) == 1 else "photos")
        return self.run_child("Estimating camera poses", ["-m", "gqn", "poses", str(folder), "--out", str(out), "--json"],
                              partial(self._open_result, out=out))

    def output_folder(self, kind: str, name: str) -> Path:
        """A new folder path (not created: the CLI creates it) where a child job keeps its result."""
        base = self.data_dir / kind
        base.mkdir(parents=True, exist_ok=True)
        return base / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"

    def _open_result(self, result: dict, out: Path) -> None:
        """Open what a pose estimation wrote."""
        target = result.get("path") or result.get("out") or str(out)
        if not self.open_paths([target]):
            raise GQNError(f"the result in {target} could not be opened")
        self.session.message(f"Camera poses saved in {target}.")

    def fit_dialog(self) -> FitDialog | None:
        """Options for fitting the model to this scene, then the fit with its live preview."""
        return self.fitting.open_dialog(self)

    def _fits_folder(self) -> Path:
        return self.data_dir / "fits"

    # --- exports ------------------------------------------------------------------------------------------------

    def export_png(self, path: str | Path) -> bool:
        """The four views with their captions and scores, as shown."""
        ok = self.view_panel.grab().save(str(path))
        if not ok:
            self.session.message(f"{path}: could not write the PNG", "error")
        return ok

    def export_png_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export views as PNG", "views.png", "PNG (*.png)")
        if path:
            self.export_png(path)

    def render_video(self, out: str | Path, poses: np.ndarray, fps: int = 24, size: int = export.FRAME_SIZE) -> bool:
        """Render `poses` to MP4/GIF on the worker thread, each picture `size` pixels across; progress in
        the job panel, cancellable. A file name that cannot be written is refused before any rendering."""
        s = self.session
        try:
            export.check_video_path(out)
        except GQNError as error:
            self.session.message(str(error), "error")
            return False
        if s.model is None:
            self.session.message("Rendering a video needs a model: open one first.", "warning")
            return False
        if self.job is not None or self.video_cancel is not None:
            self.session.message("Another job is running: cancel it first.", "warning")
            return False
        model, views, context, truth = s.model, s.views, s.context, s.truth_renderer()

        def job(predictor, progress, cancelled):
            frames = export.render_frames(predictor, model, views, context, poses, VIDEO_SAMPLES, 0, truth,
                                          progress, cancelled, frame_size=size)
            return None if frames is None else export.write_video(frames, out, fps)

        self.job_panel.begin(f"Rendering {Path(out).name} ({len(poses)} frames)")
        self.job_panel.cancel_button.clicked.connect(self._cancel_video)
        self.video_cancel = self.worker.submit_job(job)
        return True

    def _cancel_video(self) -> None:
        if self.video_cancel is not None:
            self.video_cancel.set()

    def _on_video_progress(self, done: int, total: int) -> None:
        if self.video_cancel is None:
            return
        self.job_panel.update_progress({"done": done, "total": total, "frame": f"{done}/{total}"})

    def _video_ended(self) -> None:
        self.job_panel.cancel_button.clicked.disconnect()
        self.job_panel.end()
        self.video_cancel = None
        self.request_full()  # live requests made meanwhile were superseded

    def _on_video_finished(self, path) -> None:
        if self.video_cancel is None:  # a job someone else gave the worker
            return
        self._video_ended()
        self.session.message(f"Saved {path}." if path else "Video cancelled.")
        self.jobDone.emit("video", path is not None)

    def _on_video_failed(self, text: str) -> None:
        if self.video_cancel is None:
            return
        self._video_ended()
        self.session.message(f"Video failed: {text}", "error")
        self.jobDone.emit("video", False)

    def orbit_poses(self, frames: int = 72) -> np.ndarray:
        s = self.session
        return export.orbit_poses(frames, s.center, s.camera.distance, s.camera.elevation)

    def render_orbit_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Render an orbit", "orbit.mp4", "Video (*.mp4 *.gif)")
        if path:
            self.render_video(path, self.orbit_poses())

    def _show_timeline(self) -> None:
        """An edited camera path is shown, on the timeline and as a line in the viewport."""
        self.timeline_action.setChecked(True)
        path = self.timeline.path
        self.viewport.show_camera_path(path.frames(fps=10)[:, :3, 3] if len(path) else np.zeros((0, 3)))

    # --- help ----------------------------------------------------------------------------------------------------

    def show_help(self, tab: str = HelpDialog.TABS[0]) -> HelpDialog:
        if self.help_dialog is None:
            self.help_dialog = HelpDialog(self.shortcuts(), self)
        self.help_dialog.show_tab(tab)
        return self.help_dialog

    def shortcuts(self) -> list[tuple[str, str, str]]:
        """(menu, command, key) of every menu command that has a key."""
        rows = []
        for entry in self.menuBar().actions():
            menu = entry.menu()
            for action in menu.actions() if menu is not None else []:
                if not action.shortcut().isEmpty():
                    rows.append((menu.title().replace("&", ""), action.text().replace("&", ""),
                                 action.shortcut().toString(QKeySequence.NativeText)))
        return rows

    # --- closing --------------------------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        """Stop the child job and the worker, and let go of the session, before the widgets go."""
        self.settle.stop()
        self.timeline.pause()
        if self.job is not None:
            self.job.cancel()
            self.job.process.waitForFinished(3000)
        if self.video_cancel is not None:
            self.video_cancel.set()
        self.next_view.shutdown()
        self.worker.stop()
        self.viewport.disconnect_session()
        self.thumbnails.disconnect_session()
        self.region_panel.disconnect_session()
        self.session.events.disconnect_all()
        super().closeEvent(event)
