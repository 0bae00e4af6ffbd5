"""The next-best-view guide: where to take the next photo, from the model's own doubt.

Scoring (gqn.nextview) runs on its own thread, so the window stays live. The result is drawn in
the 3D viewport: every candidate camera as a dot coloured by how unsure the model is from there,
the best next photo as a highlighted frustum, and an arrow along the sphere from the nearest real
camera to it. "Go there" puts the imagined camera on the best candidate.
"""

from __future__ import annotations

import threading
import time
import traceback
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from OpenGL import GL
from PySide6.QtCore import QThread, Signal
from PySide6.QtGui import QVector3D
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout

from explorer import theme
from explorer.session import Session
from explorer.viewport import FRUSTUM_EDGES, Viewport, frustum_points
from gqn.errors import GQNError
from gqn.nextview import Ranking, rank_views

CANDIDATES = 200
SAMPLES = 8
HEAT_CMAP = "viridis"       # as the Uncertainty panel: dark = sure, yellow = unsure
BEST = "#ff4fa3"            # the suggested camera and the arrow to it
DOT_PX = (5.0, 16.0)        # dot size from the surest to the most unsure candidate
DOT_ALPHA = (0.35, 1.0)     # and its opacity: the unsure region stands out of the cloud
ARROW_SEGMENTS = 32
HEAD = 0.07                 # arrowhead length, as a fraction of the tip's distance from the centre
FRAME_TURN_DEG = 35.0       # the viewport looks at the suggestion from this far round the scene
FRAME_DISTANCE = 3.0        # and from this many candidate radii away
ON_TOP = {"glDisable": (GL.GL_DEPTH_TEST,), "glEnable": (GL.GL_BLEND,),
          "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)}


class ScoringThread(QThread):
    """rank_views on a thread of its own; setting `stop` ends it after the current chunk."""

    progress = Signal(int, int)
    ranked = Signal(object)       # gqn.nextview.Ranking
    failed = Signal(str)

    def __init__(self, model, views, capture, count: int, samples: int, parent=None) -> None:
        super().__init__(parent)
        self.model, self.views, self.capture, self.count, self.samples = model, views, capture, count, samples
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            ranking = rank_views(self.model, self.views, self.count, self.samples, capture=self.capture,
                                 progress=self.progress.emit, cancelled=self.stop.is_set)
        except GQNError as error:
            self.failed.emit(str(error))
            return
        except Exception as error:  # a bug or a bad model must not take the app down
            traceback.print_exc()
            self.failed.emit(f"Next-view scoring failed: {type(error).__name__}: {error}")
            return
        if ranking is not None:
            self.ranked.emit(ranking)


def arc(start: np.ndarray, end: np.ndarray, centre: np.ndarray, n: int = ARROW_SEGMENTS) -> np.ndarray:
    """[n+1,3] points from `start` to `end` around `centre`: along the sphere (direction slerped,
    distance interpolated), so the arrow goes round the scene instead of through it."""
    a, b = start - centre, end - centre
    ra, rb = np.linalg.norm(a), np.linalg.norm(b)
    ua, ub = a / max(ra, 1e-12), b / max(rb, 1e-12)
    angle = float(np.arccos(np.clip(ua @ ub, -1.0, 1.0)))
    t = np.linspace(0.0, 1.0, n + 1)[:, None]
    if angle < 1e-6:
        return start + t * (end - start)
    directions = (np.sin((1 - t) * angle) * ua + np.sin(t * angle) * ub) / np.sin(angle)
    return centre + directions * ((1 - t) * ra + t * rb)


def arrow_lines(path: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Line-segment pairs [2M,3]: the path and a head at its end, its barbs in the plane the
    path and the scene centre span (so it reads from outside the sphere)."""
    segments = np.stack([path[:-1], path[1:]], 1).reshape(-1, 3)
    tip, back = path[-1], path[-1] - path[-2]
    back = back / max(np.linalg.norm(back), 1e-12)
    outward = tip - centre
    side = outward - (outward @ back) * back
    side = side / max(np.linalg.norm(side), 1e-12)
    size = HEAD * np.linalg.norm(outward)
    barbs = [tip, tip - size * (back - 0.5 * side), tip, tip - size * (back + 0.5 * side)]
    return np.concatenate([segments, barbs])


def heat_levels(scores: np.ndarray) -> np.ndarray:
    """The scores rescaled to [0,1], lowest to highest (all 1 when they are equal)."""
    span = float(scores.max() - scores.min())
    return (scores - scores.min()) / span if span > 0 else np.ones_like(scores)


class NextViewOverlay:
    """The guide's items in the viewport: heat-map dots, the best frustum, the arrow."""

    def __init__(self, viewport: Viewport) -> None:
        self.viewport = viewport
        self.dots = gl.GLScatterPlotItem(pxMode=True)
        self.best = gl.GLLinePlotItem(mode="lines", width=4, antialias=True)
        self.arrow = gl.GLLinePlotItem(mode="lines", width=4, antialias=True)
        for item in (self.best, self.arrow):  # drawn last and over everything: photos never hide the way
            item.setGLOptions(ON_TOP)
            item.setDepthValue(10)
        for item in self.items():
            item.setVisible(False)
            viewport.addItem(item)

    def items(self) -> list:
        return [self.dots, self.best, self.arrow]

    def show(self, ranking: Ranking, session: Session) -> None:
        level = heat_levels(ranking.scores)
        colors = pg.colormap.get(HEAT_CMAP).map(level, mode="float")
        colors[:, 3] = DOT_ALPHA[0] + level * (DOT_ALPHA[1] - DOT_ALPHA[0])
        self.dots.setData(pos=ranking.c2w[:, :3, 3], color=colors, size=DOT_PX[0] + level * (DOT_PX[1] - DOT_PX[0]))
        intrinsics, size = session.query_camera()
        corners = frustum_points(ranking.c2w[:1], intrinsics[None], size, 1.5 * session.frustum_size)[0]
        self.best.setData(pos=corners[FRUSTUM_EDGES].reshape(-1, 3), color=theme.rgba(BEST))
        best = ranking.c2w[0, :3, 3]
        nearest, _ = session.views.nearest(ranking.c2w[0])
        path = arc(session.views.positions[nearest], best, ranking.centre)
        self.arrow.setData(pos=arrow_lines(path, ranking.centre), color=theme.rgba(BEST, 0.9))
        for item in self.items():
            item.setVisible(True)

    def frame(self, ranking: Ranking) -> None:
        """Turn the viewport's (browsing) eye so the suggestion is in view, seen a little from the side."""
        offset = ranking.c2w[0, :3, 3] - ranking.centre
        azimuth = np.rad2deg(np.arctan2(offset[1], offset[0])) + FRAME_TURN_DEG
        elevation = np.clip(np.rad2deg(np.arcsin(np.clip(offset[2] / np.linalg.norm(offset), -1, 1))), -30, 60)
        self.viewport.setCameraPosition(pos=QVector3D(*ranking.centre), distance=FRAME_DISTANCE * ranking.radius,
                                        elevation=float(elevation), azimuth=float(azimuth))

    def hide(self) -> None:
        for item in self.items():
            item.setVisible(False)

    def visible(self) -> bool:
        return self.dots.visible()

    def remove(self) -> None:
        for item in self.items():
            self.viewport.removeItem(item)


class NextViewPanel(QFrame):
    """A card under the viewport: find the next view, see how far along it is, go there, hide it."""

    ranked = Signal(object)       # a new Ranking is shown
    failed = Signal(str)

    def __init__(self, session: Session, viewport: Viewport, count: int = CANDIDATES, samples: int = SAMPLES,
                 parent=None) -> None:
        super().__init__(parent)
        self.session, self.count, self.samples = session, count, samples
        self.overlay = NextViewOverlay(viewport)
        self.ranking: Ranking | None = None
        self.thread: ScoringThread | None = None
        self.started = 0.0
        self.setObjectName("Card")
        title = QLabel("Next best view")
        title.setObjectName("CardTitle")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.legend = QLabel(f"Dots: candidate cameras, <span style='color:#3b528b'>●</span> sure … "
                             f"<span style='color:#fde725'>●</span> unsure. "
                             f"<span style='color:{BEST}'>Pink frustum</span>: the photo that would settle most; "
                             "the arrow leads there from the nearest real camera.")
        self.legend.setObjectName("Muted")
        self.legend.setWordWrap(True)
        self.bar = QProgressBar()
        self.find_button = QPushButton("Find again")
        self.find_button.setToolTip("Score the candidate cameras again for the current model and context views")
        self.go_button = QPushButton("Go there")
        self.go_button.setToolTip("Move the imagined camera to the suggested next photo")
        self.hide_button = QPushButton("Hide")
        self.hide_button.setToolTip("Stop scoring and take the guide out of the viewport")
        self.find_button.clicked.connect(self.start)
        self.go_button.clicked.connect(self.go_there)
        self.hide_button.clicked.connect(self.dismiss)
        self.bar.setFixedWidth(220)
        row = QHBoxLayout()
        row.addWidget(title)
        row.addStretch(1)
        row.addWidget(self.bar)
        row.addWidget(self.find_button)
        row.addWidget(self.go_button)
        row.addWidget(self.hide_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.legend)
        events = session.events
        for event in (events.views, events.model, events.context):
            event.connect(self.invalidate)
        events.display.connect(self.redraw)
        self.hide()

    # --- scoring -----------------------------------------------------------------------------

    def start(self) -> bool:
        """Score the candidates for the current model and context (any running scoring is dropped)."""
        s = self.session
        if s.model is None or s.views is None or not s.context:
            s.message("The next-view guide needs a model and a scene with context views: open both first.", "warning")
            return False
        self.cancel()
        self.ranking = None
        self.overlay.hide()
        self.thread = ScoringThread(s.model, s.context_views(), s.views, self.count, self.samples, self)
        self.thread.progress.connect(self._on_progress)
        self.thread.ranked.connect(self._on_ranked)
        self.thread.failed.connect(self._on_failed)
        self.started = time.perf_counter()
        self.bar.setRange(0, self.count)
        self.bar.setValue(0)
        self.bar.show()
        self.go_button.setEnabled(False)
        self.status.setText(f"Asking the model how unsure it is from {self.count} cameras around the scene…")
        self.show()
        self.thread.start()
        return True

    def cancel(self) -> None:
        """Stop the scoring thread, if any, and wait for it (at most one chunk of candidates)."""
        thread, self.thread = self.thread, None
        if thread is not None:
            for signal in (thread.progress, thread.ranked, thread.failed):
                signal.disconnect()
            thread.stop.set()
            thread.wait()
            thread.deleteLater()

    def running(self) -> bool:
        return self.thread is not None and self.thread.isRunning()

    def _on_progress(self, done: int, total: int) -> None:
        self.bar.setValue(done)

    def _on_ranked(self, ranking: Ranking) -> None:
        self.cancel()  # the thread has finished: collect it
        self.ranking = ranking
        self.bar.hide()
        self.go_button.setEnabled(True)
        self.overlay.show(ranking, self.session)
        self.overlay.frame(ranking)
        self.status.setText(self.describe(ranking, time.perf_counter() - self.started))
        self.ranked.emit(ranking)

    def _on_failed(self, text: str) -> None:
        self.cancel()
        self.bar.hide()
        self.status.setText(text)
        self.session.message(text, "error")
        self.failed.emit(text)

    def describe(self, ranking: Ranking, seconds: float) -> str:
        offset = ranking.c2w[0, :3, 3] - ranking.centre
        azimuth = np.rad2deg(np.arctan2(offset[1], offset[0]))
        elevation = np.rad2deg(np.arcsin(np.clip(offset[2] / max(np.linalg.norm(offset), 1e-12), -1, 1)))
        ratio = ranking.scores[0] / max(float(np.median(ranking.scores)), 1e-12)
        s = self.session
        nearest, distance = s.views.nearest(ranking.c2w[0])
        name = Path(s.views.names[nearest]).name
        photo = "a context view" if nearest in s.context else "not given to the model: tick it to add it"
        return (f"Most unsure from az {azimuth:.0f}° el {elevation:.0f}°: the samples spread {ranking.scores[0]:.3f} "
                f"there, {ratio:.1f}× the median candidate. Nearest real camera: {name}, {distance:.2f} away "
                f"({photo}). {len(ranking.scores)} candidates × {ranking.samples} samples in {seconds:.1f} s.")

    # --- acting on it ------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Frustum size changed: the best frustum follows it."""
        if self.ranking is not None:
            self.overlay.show(self.ranking, self.session)

    def go_there(self) -> None:
        if self.ranking is not None:
            self.session.set_pose(self.ranking.c2w[0])

    def invalidate(self) -> None:
        """The scene, model or context changed: the ranking no longer holds."""
        if self.thread is None and self.ranking is None:
            return
        self.cancel()
        self.ranking = None
        self.overlay.hide()
        self.go_button.setEnabled(False)
        self.bar.hide()
        self.status.setText("The scene, model or context views changed: press Find again for a new suggestion.")

    def dismiss(self) -> None:
        self.cancel()
        self.ranking = None
        self.overlay.hide()
        self.hide()

    def shutdown(self) -> None:
        """Before the window goes: stop the thread and let go of the session."""
        self.cancel()
        events = self.session.events
        for event in (events.views, events.model, events.context):
            event.disconnect(self.invalidate)
        events.display.disconnect(self.redraw)
