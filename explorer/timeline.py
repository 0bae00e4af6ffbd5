"""The camera path timeline: keyframes on a strip (add at the imagined camera, delete, drag to reorder,
set how long the camera takes to the next), scrub and play in the window, load/save JSON, render a
video. The path itself is explorer.camera_path.CameraPath (no Qt); the imagined camera follows the
playhead through Session.set_pose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QElapsedTimer, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QDialog, QDoubleSpinBox, QFileDialog, QFormLayout, QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton,
    QSizePolicy, QSpinBox, QToolButton, QVBoxLayout, QWidget,
)

from explorer import dialogs, export, theme
from explorer.camera_path import CameraPath
from explorer.session import Session
from gqn.errors import GQNError

RULER = 16          # pixels of the time ruler at the top of the strip (press there to scrub)
LAST_CARD = 46      # pixels of the last keyframe's card (it has no time to the next)
DRAG_START = 6      # pixels a press must move to become a drag


class TimelineStrip(QWidget):
    """Keyframes as cards as wide as the time to the next one, under a ruler, with the playhead.
    Press the ruler to scrub; click a card to go to its keyframe; drag a card to reorder."""

    selected = Signal(int)            # a keyframe was clicked
    moved = Signal(int, int)          # keyframe dragged from index to index
    scrubbed = Signal(float)          # seconds: the playhead was put there

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.path = CameraPath()
        self.time = 0.0
        self.current: int | None = None
        self._press: QPointF | None = None
        self._pressed: int | None = None       # the card pressed, until release
        self._drop: int | None = None          # where a dragged card would go
        self.setMinimumHeight(RULER + 44)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setToolTip("Press the ruler to scrub; click a keyframe to go there; drag a keyframe to reorder")

    def show_path(self, path: CameraPath, time: float, current: int | None) -> None:
        self.path, self.time, self.current = path, time, current
        self.update()

    # --- geometry --------------------------------------------------------------------------------------

    def _scale(self) -> float:
        """Pixels per second."""
        return (self.width() - 16 - LAST_CARD) / max(self.path.duration, 1e-9)

    def x_of(self, seconds: float) -> float:
        return 8 + seconds * self._scale()

    def time_at(self, x: float) -> float:
        return float(np.clip((x - 8) / self._scale(), 0.0, self.path.duration))

    def card_rect(self, index: int) -> QRectF:
        times = self.path.times
        left = self.x_of(times[index])
        right = self.x_of(times[index + 1]) if index + 1 < len(times) else left + LAST_CARD
        return QRectF(left + 1, RULER + 4, max(right - left - 2, 8), self.height() - RULER - 8)

    def card_at(self, point: QPointF) -> int | None:
        return next((i for i in range(len(self.path)) if self.card_rect(i).contains(point)), None)

    def drop_index(self, x: float, dragged: int) -> int:
        """Where a dragged card lands: after every other card whose middle is left of x."""
        others = [self.card_rect(i).center().x() for i in range(len(self.path)) if i != dragged]
        return int(sum(centre < x for centre in others))

    # --- drawing ---------------------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.fillRect(self.rect(), QColor(theme.BACKGROUND))
        muted = QColor(theme.MUTED)
        if not len(self.path):
            painter.setPen(muted)
            painter.drawText(self.rect(), Qt.AlignCenter, "No keyframes yet: move the imagined camera and press "
                                                          "Add view (K), or start from the real cameras.")
            return
        painter.setPen(QPen(QColor(theme.BORDER), 1))
        step = max(1.0, float(2 ** np.ceil(np.log2(max(40 / self._scale(), 1e-9)))))  # ticks ≥ 40 px apart
        for second in np.arange(0.0, self.path.duration + 1e-9, step):
            x = self.x_of(second)
            painter.drawLine(QPointF(x, RULER - 4), QPointF(x, RULER))
            painter.setPen(muted)
            painter.drawText(QPointF(x + 2, RULER - 5), f"{second:g}s")
            painter.setPen(QPen(QColor(theme.BORDER), 1))
        for i, keyframe in enumerate(self.path.keyframes):
            rect = self.card_rect(i)
            chosen = i == self.current
            painter.setPen(QPen(QColor(theme.SELECTED if chosen else theme.BORDER), 2 if chosen else 1))
            painter.setBrush(QColor(theme.RAISED if i == self._pressed else theme.PANEL))
            painter.drawRoundedRect(rect, 4, 4)
            painter.setPen(QColor(theme.TEXT))
            text = f"{i + 1}" if i == len(self.path) - 1 else f"{i + 1} · {keyframe.duration:g}s"
            painter.drawText(rect.adjusted(6, 0, -4, 0), Qt.AlignVCenter | Qt.AlignLeft,
                             painter.fontMetrics().elidedText(text, Qt.ElideRight, int(rect.width()) - 8))
        if self._drop is not None:
            others = [i for i in range(len(self.path)) if i != self._pressed]
            x = self.card_rect(others[self._drop]).left() - 2 if self._drop < len(others) else \
                self.card_rect(others[-1]).right() + 2
            painter.setPen(QPen(QColor(theme.CONTEXT), 3))
            painter.drawLine(QPointF(x, RULER), QPointF(x, self.height()))
        x = self.x_of(self.time)
        painter.setPen(QPen(QColor(theme.IMAGINED), 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.end()

    # --- the mouse -------------------------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.LeftButton or not len(self.path):
            return
        self._press = event.position()
        self._pressed = None if event.position().y() < RULER else self.card_at(event.position())
        if self._pressed is None:
            self.scrubbed.emit(self.time_at(event.position().x()))
        self.update()

    def mouseMoveEvent(self, event) -> None:
        if self._press is None:
            return
        if self._pressed is None:
            self.scrubbed.emit(self.time_at(event.position().x()))
        elif (event.position() - self._press).manhattanLength() > DRAG_START and len(self.path) > 1:
            self._drop = self.drop_index(event.position().x(), self._pressed)
            self.update()

    def mouseReleaseEvent(self, event) -> None:
        pressed, drop = self._pressed, self._drop
        self._press = self._pressed = self._drop = None
        if pressed is not None and drop is not None and drop != pressed:
            self.moved.emit(pressed, drop)
        elif pressed is not None and drop is None:
            self.selected.emit(pressed)
        self.update()


class RenderDialog(QDialog):
    """Where to write the video and how large; the file name is checked before anything renders."""

    chosen = Signal(str, int, int)   # file, fps, size: emitted on Render once they are good

    def __init__(self, path: CameraPath, suggested: str, parent=None) -> None:
        super().__init__(parent)
        self.camera_path = path
        self.setWindowTitle("Render the camera path")
        self.file = QLineEdit(suggested)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.file, 1)
        row.addWidget(browse)
        self.size = QSpinBox()
        self.size.setRange(64, 1024)
        self.size.setSingleStep(16)
        self.size.setValue(export.FRAME_SIZE)
        self.size.setSuffix(" px")
        self.size.setToolTip("Each picture of a frame (the generated view, and the true view beside it for "
                             "procedural scenes) is this many pixels across; MP4 wants a multiple of 16")
        self.fps = QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(path.fps)
        self.fps.setSuffix(" frames/s")
        self.frames = QLabel()
        self.frames.setObjectName("Muted")
        self.fps.valueChanged.connect(self._show_frames)
        self._show_frames(self.fps.value())
        self.error = dialogs.error_label()
        form = QFormLayout()
        form.addRow("File (.mp4 or .gif)", row)
        form.addRow("Size", self.size)
        form.addRow("Frame rate", self.fps)
        form.addRow("", self.frames)
        dialogs.lay_out(self, form, self.error, "Render")

    def _show_frames(self, fps: int) -> None:
        self.frames.setText(f"{self.camera_path.frame_count(fps)} frames, {self.camera_path.duration:.1f} s")

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getSaveFileName(self, "Render the camera path", self.file.text(),
                                                "Video (*.mp4 *.gif)")
        if chosen:
            self.file.setText(chosen)

    def accept(self) -> None:
        try:
            export.check_video_path(self.file.text().strip())
        except GQNError as error:
            self.error.setText(str(error))
            return
        if self.size.value() % 16 and self.file.text().strip().lower().endswith(".mp4"):
            self.error.setText("For MP4 choose a size that is a multiple of 16 pixels.")
            return
        super().accept()
        self.chosen.emit(self.file.text().strip(), self.fps.value(), self.size.value())


class TimelinePanel(QFrame):
    """The camera path card: the strip, its buttons, playback; renders through `renderRequested`."""

    renderRequested = Signal(str, object, int, int)   # file, poses [N,4,4], fps, size
    changed = Signal()                                 # the path was edited or replaced

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.path = CameraPath()
        self.time = 0.0
        self.current: int | None = None
        self.setObjectName("Card")
        self.strip = TimelineStrip()
        self.strip.scrubbed.connect(self.scrub)
        self.strip.selected.connect(self.go_to)
        self.strip.moved.connect(self.move)

        def button(text: str, tip: str, slot) -> QToolButton:
            b = QToolButton()
            b.setText(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            b.setAutoRaise(True)
            return b

        self.add_button = button("Add view", "Add a keyframe at the imagined camera, after the selected one (K)",
                                 self.add_current)
        self.delete_button = button("Delete", "Delete the selected keyframe", self.delete_current)
        self.play_button = button("Play", "Play the path in the window (Space)", self.toggle_play)
        self.seed_button = button("From cameras", "Start again with a loop through the real cameras",
                                  self.seed_from_views)
        self.load_button = button("Load…", "Load a camera path (JSON)", self.load_dialog)
        self.save_button = button("Save…", "Save the camera path (JSON)", self.save_dialog)
        self.render_button = button("Render video…", "Render the path to MP4 or GIF", self.render_dialog)
        self.duration = QDoubleSpinBox()
        self.duration.setRange(0.05, 600)
        self.duration.setDecimals(2)
        self.duration.setSingleStep(0.25)
        self.duration.setSuffix(" s")
        self.duration.setKeyboardTracking(False)
        self.duration.setToolTip("Seconds from the selected keyframe to the next")
        self.duration.valueChanged.connect(self.set_duration)
        self.clock = QLabel()
        self.clock.setObjectName("Muted")
        title = QLabel("Camera path")
        title.setObjectName("CardTitle")
        to_next = QLabel("to next")
        to_next.setObjectName("Muted")
        row = QHBoxLayout()
        row.setSpacing(4)
        for widget in (title, self.add_button, self.delete_button, to_next, self.duration, self.play_button,
                       self.clock):
            row.addWidget(widget)
        row.addStretch()
        for widget in (self.seed_button, self.load_button, self.save_button, self.render_button):
            row.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 6)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.strip)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.elapsed = QElapsedTimer()
        self._start_time = 0.0
        self.refresh()

    # --- editing ---------------------------------------------------------------------------------------

    def add_current(self) -> None:
        """A keyframe at the imagined camera, after the selected keyframe (or at the end)."""
        if self.session.camera is None:
            return
        at = None if self.current is None else self.current + 1
        self.current = self.path.add(self.session.camera.c2w, at)
        self.time = float(self.path.times[self.current])
        self._edited()

    def delete_current(self) -> None:
        if self.current is None:
            return
        self.path.remove(self.current)
        self.current = min(self.current, len(self.path) - 1) if len(self.path) else None
        self.time = min(self.time, self.path.duration)
        self._edited()

    def move(self, index: int, to: int) -> None:
        self.path.move(index, to)
        self.current = to
        self._edited()

    def set_duration(self, seconds: float) -> None:
        if self.current is not None and self.current < len(self.path) - 1:
            self.path.set_duration(self.current, seconds)
            self._edited()

    def set_path(self, path: CameraPath) -> None:
        self.pause()
        self.path, self.current, self.time = path, (0 if len(path) else None), 0.0
        self._edited()
        if len(path):
            self.scrub(0.0)

    def seed_from_views(self) -> None:
        s = self.session
        if s.views is not None:
            self.set_path(CameraPath.through_views(s.views, s.center))

    def _edited(self) -> None:
        self.refresh()
        self.changed.emit()

    # --- time ------------------------------------------------------------------------------------------

    def scrub(self, seconds: float) -> None:
        """Put the playhead (and the imagined camera) at `seconds` along the path."""
        if not len(self.path):
            return
        self.time = float(np.clip(seconds, 0.0, self.path.duration))
        # the keyframe the playhead is on or after: Add view puts the new one next, in time order
        self.current = int(np.searchsorted(self.path.times, self.time + 1e-9, side="right") - 1)
        self.session.set_pose(self.path.pose_at(self.time))
        self.refresh()

    def go_to(self, index: int) -> None:
        self.scrub(float(self.path.times[index]))

    def toggle_play(self) -> None:
        if self.timer.isActive():
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if len(self.path) < 2:
            return
        if self.time >= self.path.duration - 1e-9:
            self.time = 0.0
        self._start_time = self.time
        self.elapsed.start()
        self.timer.start(int(1000 / self.path.fps))
        self.refresh()

    def pause(self) -> None:
        self.timer.stop()
        self.refresh()

    def _tick(self) -> None:
        """Follow the wall clock (a slow frame skips ahead rather than slowing the path down)."""
        seconds = self._start_time + self.elapsed.elapsed() / 1000
        self.scrub(min(seconds, self.path.duration))
        if seconds >= self.path.duration:
            self.pause()

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    # --- files -----------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> bool:
        try:
            self.path.save(path)
        except OSError as error:
            self.session.message(f"{path}: could not save the camera path ({error.strerror})", "error")
            return False
        self.session.message(f"Camera path saved in {path}.")
        return True

    def load(self, path: str | Path) -> bool:
        try:
            loaded = CameraPath.load(path)
        except GQNError as error:
            self.session.message(str(error), "error")
            return False
        self.set_path(loaded)
        self.session.message(f"Camera path: {len(loaded)} keyframes, {loaded.duration:.1f} s from {Path(path).name}.")
        return True

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save camera path", "camera_path.json", "JSON (*.json)")
        if path:
            self.save(path)

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load camera path", "", "JSON (*.json)")
        if path:
            self.load(path)

    def render_dialog(self) -> RenderDialog | None:
        """Ask for file, size and frame rate; emit renderRequested when they are good."""
        if len(self.path) < 2:
            self.session.message("A video needs at least two keyframes on the camera path.", "warning")
            return None
        self.pause()
        dialog = RenderDialog(self.path, str(Path.cwd() / "camera_path.mp4"), self)
        dialog.chosen.connect(self._render)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _render(self, file: str, fps: int, size: int) -> None:
        self.renderRequested.emit(file, self.path.frames(fps), fps, size)

    # --- showing ---------------------------------------------------------------------------------------

    def refresh(self) -> None:
        path, current = self.path, self.current
        self.strip.show_path(path, self.time, current)
        has_next = current is not None and current < len(path) - 1
        self.duration.blockSignals(True)
        self.duration.setValue(path.keyframes[current].duration if has_next else 0.0)
        self.duration.blockSignals(False)
        self.duration.setEnabled(has_next)
        self.delete_button.setEnabled(current is not None)
        self.play_button.setText("Pause" if self.timer.isActive() else "Play")
        for b in (self.play_button, self.render_button):
            b.setEnabled(len(path) >= 2)
        self.save_button.setEnabled(len(path) > 0)
        self.clock.setText(f"{self.time:.1f} / {path.duration:.1f} s · {len(path)} keyframes")
