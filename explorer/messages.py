"""The message area: the session's latest messages, newest first, each with its action button."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from explorer import theme
from explorer.session import Message

SHOWN = 2  # older messages stay in session.messages but leave the screen


class MessageRow(QFrame):
    def __init__(self, message: Message, parent=None) -> None:
        super().__init__(parent)
        self.message = message
        color = theme.LEVELS.get(message.level, theme.TEXT)
        self.setStyleSheet(f"MessageRow {{ background: {theme.PANEL}; border: 1px solid {theme.BORDER};"
                           f" border-left: 3px solid {color}; border-radius: 4px; }}")
        self.text = QLabel(message.text)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 2, 2)
        layout.addWidget(self.text, 1)
        self.button = None
        if message.action is not None:
            self.button = QPushButton(message.action_label or "Do it")
            self.button.clicked.connect(self._run_action)
            layout.addWidget(self.button)
        close = QToolButton()
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self._dismiss)
        layout.addWidget(close, 0, Qt.AlignTop)

    def _run_action(self) -> None:
        action = self.message.action
        self._dismiss()
        action()

    def _dismiss(self) -> None:
        self.hide()
        self.deleteLater()


class MessageArea(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows = QVBoxLayout(self)
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.rows.setSpacing(4)

    def add(self, message: Message) -> MessageRow:
        if message.topic is not None:
            for old in self.visible_rows():
                if old.message.topic == message.topic:
                    old._dismiss()
        row = MessageRow(message)
        self.rows.insertWidget(0, row)
        row.show()
        while self.rows.count() > SHOWN:
            old = self.rows.takeAt(self.rows.count() - 1).widget()
            old.hide()
            old.deleteLater()
        return row

    def visible_rows(self) -> list[MessageRow]:
        rows = (self.rows.itemAt(i).widget() for i in range(self.rows.count()))
        return [row for row in rows if row is not None and not row.isHidden()]
