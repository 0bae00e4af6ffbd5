"""Helpers shared by the explorer tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from gqn import camera
from gqn.data.viewset import ViewSet


def write_transforms(folder: Path, views: ViewSet) -> Path:
    """A NeRF-style transforms.json with one PNG per view."""
    folder.mkdir(parents=True, exist_ok=True)
    fx, fy, cx, cy = views.intrinsics[0]
    height, width = views.size
    frames = []
    for i, (image, c2w) in enumerate(zip(views.images, views.c2w)):
        Image.fromarray(image).save(folder / f"frame_{i:03d}.png")
        frames.append({"file_path": f"frame_{i:03d}.png", "transform_matrix": camera.opencv_to_opengl(c2w).tolist()})
    data = {"fl_x": fx, "fl_y": fy, "cx": cx, "cy": cy, "w": width, "h": height, "frames": frames}
    (folder / "transforms.json").write_text(json.dumps(data))
    return folder


def gl_can_draw() -> bool:
    from PySide6.QtGui import QGuiApplication
    return QGuiApplication.platformName() != "offscreen"


def wait_full(qtbot, window, c2w=None, timeout=20000):
    """Wait until a full (not draft) view is drawn, for pose c2w if given; return its Prediction."""
    got = {}

    def check(prediction) -> bool:
        ok = not prediction.draft and (c2w is None or np.array_equal(prediction.c2w, c2w))
        if ok:
            got["p"] = prediction
        return ok

    last = window.last_prediction
    if last is not None and check(last):
        return last
    with qtbot.waitSignal(window.viewDrawn, timeout=timeout, check_params_cb=check):
        pass
    return got["p"]


def grab_rgb(gl_widget) -> np.ndarray:
    """What an OpenGL widget shows, as uint8 [H,W,3]."""
    from PySide6.QtGui import QImage
    image = gl_widget.grabFramebuffer().convertToFormat(QImage.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * image.height())
    return rows.reshape(image.height(), image.bytesPerLine())[:, :3 * image.width()].reshape(
        image.height(), image.width(), 3).copy()


def shown_viewport(qtbot, session, size=(160, 160)):
    """A Viewport of `session` on screen at `size` (closed by qtbot at teardown)."""
    from explorer.viewport import Viewport
    viewport = Viewport(session)
    qtbot.addWidget(viewport)
    viewport.resize(*size)
    viewport.show()
    qtbot.waitExposed(viewport)
    return viewport


def press(qtbot, window, key):
    """Press `key` in `window` as a person would: the window must be the active one for its
    shortcuts to fire."""
    if not window.isActiveWindow():
        with qtbot.waitActive(window):
            window.activateWindow()
    qtbot.keyClick(window, key)
