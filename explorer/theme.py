"""One dark theme for every widget: palette, style sheet and the colours that carry meaning."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#1b1e24"
PANEL = "#23272f"
RAISED = "#2c313a"
BORDER = "#3a404b"
TEXT = "#d9dee7"
MUTED = "#8a93a3"
IMAGINED = "#4fc3f7"    # the imagined camera, and the app's accent
CONTEXT = "#ffb74d"     # views given to the model
VIEW = "#8291a8"        # other real views
SELECTED = "#ffffff"
REGION = "#ce93d8"      # the region box the model considers
LEVELS = {"info": "#4fc3f7", "warning": "#ffca28", "error": "#ef5350"}


def rgba(color: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    c = QColor(color)
    return c.redF(), c.greenF(), c.blueF(), alpha


STYLE_SHEET = f"""
QWidget {{ color: {TEXT}; font-size: 10pt; }}
QMainWindow, QDialog {{ background: {BACKGROUND}; }}
QToolBar {{ background: {PANEL}; border: none; border-bottom: 1px solid {BORDER}; spacing: 2px; padding: 3px; }}
QToolBar QToolButton {{ padding: 4px 8px; border-radius: 4px; }}
QToolBar QToolButton:hover {{ background: {RAISED}; }}
QToolBar QToolButton:checked {{ background: #34506a; }}
QStatusBar {{ background: {PANEL}; border-top: 1px solid {BORDER}; color: {MUTED}; }}
QStatusBar QLabel {{ color: {MUTED}; padding: 0 6px; }}
QMenuBar {{ background: {PANEL}; }}
QMenuBar::item:selected, QMenu::item:selected {{ background: #34506a; }}
QMenu {{ background: {PANEL}; border: 1px solid {BORDER}; }}
QSplitter::handle {{ background: {BACKGROUND}; }}
QScrollArea {{ border: none; background: transparent; }}
QPushButton {{ background: {RAISED}; border: 1px solid {BORDER}; border-radius: 4px; padding: 4px 12px; }}
QPushButton:hover {{ border-color: {IMAGINED}; }}
QProgressBar {{ background: {RAISED}; border: 1px solid {BORDER}; border-radius: 4px; text-align: center;
               min-height: 14px; }}
QProgressBar::chunk {{ background: {IMAGINED}; border-radius: 3px; }}
QSlider::groove:horizontal {{ height: 4px; background: {BORDER}; border-radius: 2px; }}
QSlider::handle:horizontal {{ background: {IMAGINED}; width: 12px; margin: -5px 0; border-radius: 6px; }}
QToolTip {{ background: {RAISED}; color: {TEXT}; border: 1px solid {BORDER}; }}
#Card {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 6px; }}
#CardTitle {{ font-weight: 600; }}
#Muted {{ color: {MUTED}; }}
#Metric {{ color: {TEXT}; font-weight: 600; }}
"""


def apply(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    for role, color in [(QPalette.Window, BACKGROUND), (QPalette.WindowText, TEXT), (QPalette.Base, PANEL),
                        (QPalette.AlternateBase, RAISED), (QPalette.Text, TEXT), (QPalette.Button, RAISED),
                        (QPalette.ButtonText, TEXT), (QPalette.Highlight, "#34506a"),
                        (QPalette.HighlightedText, SELECTED), (QPalette.ToolTipBase, RAISED),
                        (QPalette.ToolTipText, TEXT), (QPalette.PlaceholderText, MUTED)]:
        palette.setColor(role, QColor(color))
    palette.setColor(QPalette.Disabled, QPalette.Text, QColor(MUTED))
    palette.setColor(QPalette.Disabled, QPalette.ButtonText, QColor(MUTED))
    app.setPalette(palette)
    app.setStyleSheet(STYLE_SHEET)
