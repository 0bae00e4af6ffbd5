"""The region card: limit what the model and the baselines consider to a box, edit its corners, fit
it to the scene; remembered for each capture (QSettings, keyed by the capture's source path)."""

from __future__ import annotations

import json
from functools import partial

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox, QDoubleSpinBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout,
)

from explorer import theme
from explorer.capture import Region, default_region, region_key
from explorer.session import Session
from gqn.errors import GQNError

SETTINGS_KEY = "regions"  # one JSON object {capture key: {"min": [...], "max": [...]}}


class RegionPanel(QFrame):
    def __init__(self, session: Session, settings: QSettings, parent=None) -> None:
        super().__init__(parent)
        self.session, self.settings = session, settings
        self.setObjectName("Card")
        title = QLabel("Region the model considers")
        title.setObjectName("CardTitle")
        self.enabled = QCheckBox("Limit to a box")
        self.enabled.setToolTip("The model and the classical baseline only consider what lies inside the box "
                                "(scene coordinates). Remembered for this capture.")
        self.enabled.toggled.connect(self._on_enabled)
        self.fit_button = QPushButton("Fit to scene")
        self.fit_button.setToolTip("The sparse points' extent with a margin, or a box about the scene centre")
        self.fit_button.clicked.connect(self.fit_to_scene)
        self.note = QLabel()
        self.note.setObjectName("Muted")
        self.note.setWordWrap(True)
        self.spins: dict[tuple[str, int], QDoubleSpinBox] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        for column, axis in enumerate("xyz", start=1):
            label = QLabel(axis)
            label.setObjectName("Muted")
            grid.addWidget(label, 0, column, Qt.AlignCenter)
        for row, end in enumerate(("min", "max"), start=1):
            grid.addWidget(QLabel(end), row, 0)
            for axis in range(3):
                spin = QDoubleSpinBox()
                spin.setRange(-1e6, 1e6)
                spin.setDecimals(3)
                spin.setKeyboardTracking(False)  # apply when typing is done, not at every digit
                spin.valueChanged.connect(partial(self._on_edited, end, axis))
                self.spins[end, axis] = spin
                grid.addWidget(spin, row, axis + 1)
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch()
        header.addWidget(self.enabled)
        header.addWidget(self.fit_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addLayout(grid)
        layout.addWidget(self.note)
        session.events.views.connect(self.restore)
        session.events.region.connect(self.show_region)
        self.hide()

    # --- what is remembered ----------------------------------------------------------------------------

    def _stored(self) -> dict:
        try:
            stored = json.loads(self.settings.value(SETTINGS_KEY, "{}") or "{}")
        except (TypeError, ValueError):
            return {}
        return stored if isinstance(stored, dict) else {}

    def _remember(self, region: Region | None) -> None:
        key = region_key(self.session.views) if self.session.views is not None else None
        if key is None:
            return
        stored = self._stored()
        if region is None:
            stored.pop(key, None)
        else:
            stored[key] = region.to_meta()
        self.settings.setValue(SETTINGS_KEY, json.dumps(stored))

    def restore(self) -> None:
        """A newly opened scene gets the region remembered for it (or none)."""
        views = self.session.views
        key = region_key(views) if views is not None else None
        remembered = self._stored().get(key) if key is not None else None
        if remembered is not None and self.session.region is None:
            try:
                self.session.set_region(Region.from_meta(remembered))
            except GQNError:
                self._remember(None)  # a broken entry is forgotten, not shown
        step = max(self.session.scene_radius / 50, 1e-3)
        for spin in self.spins.values():
            spin.setSingleStep(step)
        self.show_region()

    # --- editing ---------------------------------------------------------------------------------------

    def set_region(self, region: Region | None) -> None:
        """Apply `region` (None: everything) to the session and remember it for this capture."""
        self.session.set_region(region)
        self._remember(region)

    def fit_to_scene(self) -> None:
        s = self.session
        if s.views is not None:
            self.set_region(default_region(s.views, s.center, s.scene_radius))

    def _on_enabled(self, checked: bool) -> None:
        if checked and self.session.region is None:
            self.fit_to_scene()
        elif not checked:
            self.set_region(None)

    def _on_edited(self, end: str, axis: int, value: float) -> None:
        """One corner coordinate was edited: only it changes (the others keep their full precision)."""
        region = self.session.region
        if region is None:
            return
        corners = {"min": list(region.low), "max": list(region.high)}
        corners[end][axis] = value
        try:
            region = Region(tuple(corners["min"]), tuple(corners["max"]))
        except GQNError as error:
            self.note.setText(str(error))
            self.note.setStyleSheet(f"color: {theme.LEVELS['warning']};")
            return
        self.set_region(region)

    def show_region(self) -> None:
        """Show the session's region in the controls (without editing it back)."""
        views, region = self.session.views, self.session.region
        for widget in (self.enabled, *self.spins.values()):
            widget.blockSignals(True)
        self.enabled.setChecked(region is not None)
        if region is not None:
            for a in range(3):
                self.spins["min", a].setValue(region.low[a])
                self.spins["max", a].setValue(region.high[a])
        for widget in (self.enabled, *self.spins.values()):
            widget.blockSignals(False)
        self.enabled.setEnabled(views is not None)
        self.fit_button.setEnabled(views is not None)
        for spin in self.spins.values():
            spin.setEnabled(region is not None)
        self.note.setStyleSheet("")
        if region is None:
            self.note.setText("")
        elif region_key(views) is None:
            self.note.setText("Drawn as a violet box in the viewport. Not remembered: this scene has no files.")
        else:
            self.note.setText("Drawn as a violet box in the viewport; remembered for this capture.")

    def disconnect_session(self) -> None:
        self.session.events.views.disconnect(self.restore)
        self.session.events.region.disconnect(self.show_region)
