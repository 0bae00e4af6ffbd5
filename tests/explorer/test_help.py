"""Help that helps: F1 opens the mouse and key reference (from the window's own menus), what each panel
shows, which files open; and every text cut short on screen has its whole text as a tool tip."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel

from explorer_helpers import press, wait_full
from gqn.data.viewset import ViewSet


def test_f1_opens_help_with_every_key_panel_and_format(qtbot, make_window, scene):
    window = make_window(scene)
    press(qtbot, window, Qt.Key_F1)
    dialog = window.help_dialog
    assert dialog is not None and dialog.isVisible() and dialog.tabs.currentIndex() == 0
    keys = dialog.text("Mouse and keys")
    shortcuts = window.shortcuts()
    assert len(shortcuts) > 20
    for menu, command, key in shortcuts:
        assert key in keys and command in keys, (menu, command, key)
    assert len({key for _, _, key in shortcuts}) == len(shortcuts), "two commands share a key"
    for gesture in ("click a frustum", "press the ruler", "drop files"):
        assert gesture in keys
    dialog.close()

    next(a for a in window.menuBar().actions() if a.text() == "&Help").menu().actions()[1].trigger()
    assert dialog.isVisible() and dialog.tabs.tabText(dialog.tabs.currentIndex()) == "Panels"
    panels = dialog.text("Panels")
    for panel in ("Viewport", "Generated", "Real", "Classical", "Difference", "Uncertainty", "Camera path", "Region"):
        assert panel in panels
    window.show_help("Opening files")
    formats = dialog.text("Opening files")
    for what in ("transforms.json", "sparse/0", "poses_bounds.npy", "gqn scenes", ".tfrecord", "model.safetensors",
                 "structure from motion", "drop"):
        assert what in formats
    dialog.close()


def test_every_cut_off_text_has_its_full_text_as_a_tool_tip(qtbot, make_window, model, scene):
    names = [f"DSC_2024-06-01_garden-bench-north-side_{i:04d}.jpeg" for i in range(len(scene))]
    photos = ViewSet(scene.images, scene.c2w, scene.intrinsics, names=names, source="a-capture-with-a-long-name",
                     meta={"format": "nerf"})
    window = make_window(photos, model)
    wait_full(qtbot, window, photos.c2w[window.session.snapped])
    window.job_panel.begin("Estimating camera poses for the photos of a-capture-with-a-long-name")
    window.job_panel.update_progress({"event": "progress", "stage": "extract", "done": 3, "total": 9,
                                      "image": names[3], "features": 2048, "seconds": 1.25})
    window.resize(760, 640)  # not below what the texts that cannot shrink need, once the X server has it
    qtbot.wait(50)  # layouts settle
    qtbot.waitUntil(lambda: window.width() >= max(760, window.minimumSizeHint().width()))
    qtbot.wait(50)
    cut = []
    for label in window.findChildren(QLabel):
        text = label.text()
        if not label.isVisible() or label.wordWrap() or not text or "<" in text:
            continue
        if label.fontMetrics().horizontalAdvance(text) > label.contentsRect().width() + 1:
            cut.append(text)
            assert label.toolTip() == text, f"cut short without a tool tip: {text!r}"
    for box in window.findChildren(QCheckBox):
        if box.text().endswith("…"):
            cut.append(box.text())
            assert any(name in box.toolTip() and name.startswith(box.text()[:-1]) for name in names), box.text()
    assert len(cut) >= 3, cut  # captions, status bar, job panel and thumbnails at this width
    window.job_panel.end()
