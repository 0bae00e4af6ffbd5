"""A one-line label that asks for its whole text but gives way when there is no room: cut with "…",
the whole text in its tool tip (the status bar, the job panel)."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QSizePolicy

from explorer.view_panel import ElidedLabel


class ShrinkingLabel(ElidedLabel):
    def __init__(self, text: str = "", parent=None) -> None:
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())
