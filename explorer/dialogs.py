"""What the explorer's option dialogs share: a line that says what is wrong, and the buttons."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout

from explorer import theme


def error_label() -> QLabel:
    """Empty until a field is wrong; then says why in the error colour."""
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {theme.LEVELS['error']};")
    return label


def lay_out(dialog: QDialog, form: QFormLayout, error: QLabel, ok_text: str) -> None:
    """The fields, the error line, then Cancel and an OK button named for what it does."""
    buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
    buttons.button(QDialogButtonBox.Ok).setText(ok_text)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addLayout(form)
    layout.addWidget(error)
    layout.addWidget(buttons)
