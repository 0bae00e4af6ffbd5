"""The view panel: what the model imagines at the imagined camera, the real view, their difference
and the model's uncertainty, with PSNR/SSIM when a true view exists."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from explorer import theme

ERROR_RANGE = 0.5        # |generated − true| shown from 0 (black) to this (bright)
ERROR_CMAP = "inferno"
UNCERTAINTY_RANGE = 0.25  # per-pixel std of the samples shown from 0 to this
UNCERTAINTY_CMAP = "viridis"


def to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, 3 * width, QImage.Format_RGB888).copy()


def heat(values: np.ndarray, vmax: float, cmap: str = ERROR_CMAP) -> np.ndarray:
    """float [H,W] -> uint8 [H,W,3] through a perceptual colour map, 0..vmax."""
    lut = pg.colormap.get(cmap).getLookupTable(0.0, 1.0, 256, alpha=False, mode="byte")
    return lut[np.clip(values / vmax * 255, 0, 255).astype(np.uint8)]


class ElidedLabel(QLabel):
    """One line of text that never widens its layout: cut with "…" when it does not fit (full text in
    the tool tip)."""

    def __init__(self, text: str = "", parent=None) -> None:
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        shown = self.fontMetrics().elidedText(self.text(), Qt.ElideRight, self.width())
        painter.drawText(self.rect(), int(self.alignment()) | Qt.AlignVCenter, shown)
        painter.end()


class ImageView(QWidget):
    """An image scaled to fit (aspect kept), or a placeholder text when there is none."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.pixmap: QPixmap | None = None
        self.placeholder = ""
        self.setMinimumSize(80, 80)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def set_image(self, rgb: np.ndarray | None, placeholder: str = "") -> None:
        self.pixmap = None if rgb is None else QPixmap.fromImage(to_qimage(rgb))
        self.placeholder = placeholder
        self.update()

    def image_rect(self) -> QRectF:
        """The largest rectangle of the image's aspect (square when empty) centred in the widget."""
        aspect = 1.0 if self.pixmap is None else self.pixmap.width() / self.pixmap.height()
        width = min(self.width(), self.height() * aspect)
        height = width / aspect
        return QRectF((self.width() - width) / 2, (self.height() - height) / 2, width, height)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.SmoothPixmapTransform)
        rect = self.image_rect()
        painter.fillRect(rect, QColor(theme.BACKGROUND))
        if self.pixmap is not None:
            painter.drawPixmap(rect, self.pixmap, QRectF(self.pixmap.rect()))
        else:
            painter.setPen(QColor(theme.MUTED))
            painter.drawText(rect.adjusted(12, 12, -12, -12), Qt.AlignCenter | Qt.TextWordWrap, self.placeholder)
        painter.end()


class GeneratedView(ImageView):
    """The generated image doubles as the imagined camera's handle: drag to orbit, scroll to zoom, keys."""

    orbitRequested = Signal(float, float)   # degrees of azimuth, elevation
    zoomRequested = Signal(float)           # distance factor
    DEGREES_PER_PIXEL = 0.4

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setCursor(Qt.OpenHandCursor)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setToolTip("Drag to orbit the imagined camera, scroll to move it nearer or farther;\n"
                        "arrow keys orbit, +/− zoom")
        self._last: QPointF | None = None

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            self._last = event.position()
            self.setCursor(Qt.ClosedHandCursor)

    def mouseMoveEvent(self, event) -> None:
        if self._last is None:
            return
        delta = event.position() - self._last
        self._last = event.position()
        self.orbitRequested.emit(-delta.x() * self.DEGREES_PER_PIXEL, delta.y() * self.DEGREES_PER_PIXEL)

    def mouseReleaseEvent(self, event) -> None:
        self._last = None
        self.setCursor(Qt.OpenHandCursor)

    def wheelEvent(self, event) -> None:
        self.zoomRequested.emit(0.999 ** event.angleDelta().y())

    def keyPressEvent(self, event) -> None:
        step = 5.0
        moves = {Qt.Key_Left: (step, 0), Qt.Key_Right: (-step, 0), Qt.Key_Up: (0, -step), Qt.Key_Down: (0, step)}
        if event.key() in moves:
            self.orbitRequested.emit(*moves[event.key()])
        elif event.key() in (Qt.Key_Plus, Qt.Key_Equal):
            self.zoomRequested.emit(0.9)
        elif event.key() == Qt.Key_Minus:
            self.zoomRequested.emit(1 / 0.9)
        else:
            super().keyPressEvent(event)


def colour_bar(cmap: str, vmax: float) -> QHBoxLayout:
    """A small labelled gradient: what the colours of a heat map mean."""
    gradient = QLabel()
    ramp = heat(np.tile(np.linspace(0, vmax, 64), (8, 1)), vmax, cmap)
    gradient.setPixmap(QPixmap.fromImage(to_qimage(ramp)))
    row = QHBoxLayout()
    row.setSpacing(4)
    for widget in (QLabel("0"), gradient, QLabel(f"{vmax:g}")):
        widget.setObjectName("Muted")
        row.addWidget(widget)
    return row


class ImagePane(QFrame):
    """A card: title and badge, the image, a caption."""

    def __init__(self, title: str, view: ImageView | None = None, accent: str = theme.TEXT,
                 legend: tuple[str, float] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.view = view or ImageView()
        self.title = QLabel(title)
        self.title.setObjectName("CardTitle")
        self.title.setStyleSheet(f"color: {accent};")
        self.badge = ElidedLabel()
        self.badge.setAlignment(Qt.AlignRight)
        self.badge.setObjectName("Muted")
        self.caption = ElidedLabel()
        self.caption.setObjectName("Muted")
        footer = QHBoxLayout()
        footer.addWidget(self.caption, 1)
        if legend is not None:
            footer.addLayout(colour_bar(*legend))
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addWidget(self.badge, 1)    # shrinks with "…" (full text in its tool tip) in a narrow window
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        layout.addLayout(footer)

    def display(self, rgb: np.ndarray | None, caption: str = "", badge: str = "", placeholder: str = "") -> None:
        self.view.set_image(rgb, placeholder)
        self.caption.setText(caption)
        self.badge.setText(badge)


class ViewPanel(QWidget):
    """Generated | Classical | Real over Difference | Uncertainty | Classical difference, and the
    scores: what the model imagines beside what geometry alone gives and the truth, on the same pixels."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.generated = ImagePane("Generated", GeneratedView(), theme.IMAGINED)
        self.classical = ImagePane("Classical")
        self.real = ImagePane("Real")
        self.difference = ImagePane("Difference", legend=(ERROR_CMAP, ERROR_RANGE))
        self.uncertainty = ImagePane("Uncertainty", legend=(UNCERTAINTY_CMAP, UNCERTAINTY_RANGE))
        self.classical_difference = ImagePane("Classical difference")
        self.psnr = QLabel("–")
        self.ssim = QLabel("–")
        self.score_note = ElidedLabel()
        for label in (self.psnr, self.ssim):
            label.setObjectName("Metric")
        self.score_note.setObjectName("Muted")
        grid = QGridLayout()
        grid.setSpacing(8)
        panes = (self.generated, self.classical, self.real, self.difference, self.uncertainty, self.classical_difference)
        for i, pane in enumerate(panes):
            grid.addWidget(pane, i // 3, i % 3)
        scores = QHBoxLayout()
        for name, value in (("PSNR", self.psnr), ("SSIM", self.ssim)):
            caption = QLabel(name)
            caption.setObjectName("Muted")
            scores.addWidget(caption)
            scores.addWidget(value)
            scores.addSpacing(14)
        scores.addWidget(self.score_note, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid, 1)
        layout.addLayout(scores)

    def clear(self, why: str = "") -> None:
        """Empty every pane (their pictures belong to a view that is gone) and say why."""
        for pane in (self.generated, self.classical, self.real, self.difference, self.uncertainty,
                     self.classical_difference):
            pane.display(None, "", "", why if pane is self.generated else "")
        self.set_scores(None, None, "")

    @property
    def generated_view(self) -> GeneratedView:
        return self.generated.view

    def set_scores(self, psnr: float | None, ssim: float | None, note: str = "",
                   classical_psnr: float | None = None) -> None:
        """PSNR and SSIM of the generated view against the true one (and the classical view's PSNR
        beside it); None shows a dash."""
        self.psnr.setText("–" if psnr is None else f"{psnr:.2f} dB")
        self.ssim.setText("–" if ssim is None else f"{ssim:.3f}")
        classical = "" if classical_psnr is None else f"classical {classical_psnr:.2f} dB · "
        self.score_note.setText(classical + note)
