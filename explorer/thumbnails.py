"""The strip of the scene's real views: click one to snap the imagined camera onto it, tick it to give
it to the model as context."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QCheckBox, QFrame, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from explorer import theme
from explorer.session import Session
from explorer.view_panel import to_qimage

THUMB = 64


def thumbnail(image: np.ndarray) -> QPixmap:
    """The image fitted into THUMB×THUMB (small procedural views are enlarged, photos shrunk)."""
    height, width = image.shape[:2]
    scale = THUMB / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return QPixmap.fromImage(to_qimage(np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))))


class ViewThumb(QFrame):
    clicked = Signal(int)
    contextToggled = Signal(int)

    def __init__(self, index: int, name: str, image: np.ndarray, parent=None) -> None:
        super().__init__(parent)
        self.index = index
        self.picture = QLabel()
        self.picture.setPixmap(thumbnail(image))
        self.picture.setFixedSize(THUMB, THUMB)
        self.picture.setAlignment(Qt.AlignCenter)
        self.picture.setCursor(Qt.PointingHandCursor)
        self.picture.setToolTip(f"{name}\nClick to put the imagined camera exactly here")
        self.check = QCheckBox(_short(Path(name).name))
        self.check.setToolTip(f"{name}\nTick to give this view to the model as context")
        self.check.toggled.connect(self._on_toggled)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 2)
        layout.setSpacing(2)
        layout.addWidget(self.picture)
        layout.addWidget(self.check)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            self.clicked.emit(self.index)

    def _on_toggled(self, _checked: bool) -> None:
        self.contextToggled.emit(self.index)

    def set_state(self, context: bool, selected: bool) -> None:
        self.check.blockSignals(True)
        self.check.setChecked(context)
        self.check.blockSignals(False)
        border = theme.SELECTED if selected else (theme.CONTEXT if context else theme.BORDER)
        self.setStyleSheet(f"ViewThumb {{ border: 2px solid {border}; border-radius: 5px; background: {theme.PANEL}; }}")


def _short(name: str, limit: int = 11) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


class ThumbnailStrip(QScrollArea):
    """One ViewThumb per view of the session's scene, in a horizontal scrolling row."""

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.thumbs: list[ViewThumb] = []
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFixedHeight(THUMB + 52)
        session.events.views.connect(self.rebuild)
        session.events.context.connect(self.update_states)
        session.events.selection.connect(self.update_states)

    def rebuild(self) -> None:
        container = QWidget()
        row = QHBoxLayout(container)
        row.setContentsMargins(6, 4, 6, 4)
        row.setSpacing(6)
        views = self.session.views
        self.thumbs = []
        for i in range(len(views) if views is not None else 0):
            thumb = ViewThumb(i, views.names[i], views.images[i])
            thumb.clicked.connect(self.session.snap_to)
            thumb.contextToggled.connect(self.session.toggle_context)
            row.addWidget(thumb)
            self.thumbs.append(thumb)
        row.addStretch()
        self.setWidget(container)  # deletes the previous container and its thumbnails
        self.update_states()

    def update_states(self) -> None:
        for thumb in self.thumbs:
            thumb.set_state(thumb.index in self.session.context, thumb.index == self.session.selected)
        if self.session.selected is not None and self.session.selected < len(self.thumbs):
            self.ensureWidgetVisible(self.thumbs[self.session.selected], 40, 0)

    def disconnect_session(self) -> None:
        events = self.session.events
        events.views.disconnect(self.rebuild)
        events.context.disconnect(self.update_states)
        events.selection.disconnect(self.update_states)
