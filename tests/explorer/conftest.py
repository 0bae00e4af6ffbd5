"""Fixtures for the explorer tests: a tiny untrained model saved to disk, small scenes, and windows
that are closed at teardown with a check that no widget leaked (napari's make_napari_viewer idea).

Run headless as `xvfb-run -a -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb pytest tests/explorer`;
under QT_QPA_PLATFORM=offscreen the tests that need OpenGL drawing skip themselves.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
from pathlib import Path

import pytest

from explorer_helpers import write_transforms
from gqn.data.viewset import ViewSet

SIZE = 32
VIEWS = 8
_RETURNED_NONE: list[None] = []


@pytest.fixture(autouse=True)
def give_none_back():
    """PySide6 6.12.0's processEvents() (and QTest.qWait, which qtbot.wait uses) drops one reference
    to None per call (measured: sys.getrefcount(None) falls by 1,000 over 1,000 calls). Python 3.11's
    None is not immortal, so over a long run its count reaches zero and the interpreter aborts with
    "none_dealloc" — a flaky crash of the suite. The app itself never calls processEvents (Qt's own
    loop does not leak); the tests give back whatever each one took."""
    before = sys.getrefcount(None)
    yield
    _RETURNED_NONE.extend([None] * max(0, before - sys.getrefcount(None)))


def pytest_configure(config) -> None:
    try:
        from PySide6.QtCore import QCoreApplication, Qt
    except ImportError:
        return
    # Must precede the QApplication (pytest-qt makes it lazily): else a second GL view draws nothing.
    QCoreApplication.setAttribute(Qt.AA_ShareOpenGLContexts)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """An untrained tiny GQN saved as a model folder (no trained model is needed to test plumbing)."""
    from gqn import GQN, presets
    import torch
    torch.manual_seed(0)
    model = GQN(dataclasses.replace(presets["tiny"], image_size=SIZE, trained_on={"kind": "shepard-metzler-7"}))
    return model.save(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="session")
def model(model_dir):
    from gqn import load_model
    return load_model(model_dir)


@pytest.fixture(scope="session")
def scene() -> ViewSet:
    """A procedural scene: its exact ground truth renders at any pose."""
    from gqn.scenes import render_views
    return render_views("shepard-metzler-7", 3, VIEWS, SIZE)


@pytest.fixture
def photo_scene(scene) -> ViewSet:
    """The same pictures as if they were photos: no ground truth away from the real cameras."""
    return ViewSet(scene.images, scene.c2w, scene.intrinsics, source="photos", meta={"format": "nerf"})


@pytest.fixture
def scene_folder(tmp_path, scene) -> Path:
    """`scene` written as a folder with transforms.json and PNGs (what a user drops)."""
    return write_transforms(tmp_path / "scene", scene)


@pytest.fixture
def settings(tmp_path):
    """QSettings (Open Recent, regions) in tmp_path, never the user's. QSettings(organisation,
    application) always uses the native format, whatever the default: its path is the one to move."""
    from PySide6.QtCore import QSettings
    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(tmp_path / "settings"))
    yield


@pytest.fixture
def make_window(qtbot, qapp, settings, tmp_path):
    """make_window(views=None, model=None) -> a shown MainWindow; closed at teardown, leaks checked."""
    from PySide6.QtWidgets import QApplication
    from explorer import theme
    from explorer.main_window import MainWindow

    theme.apply(qapp)
    before = set(map(id, QApplication.topLevelWidgets()))
    windows = []

    def make(views=None, model=None, model_path="tiny", samples=2, settle_ms=30):
        window = MainWindow(samples=samples, settle_ms=settle_ms)
        window.data_dir = tmp_path / "app-data"
        windows.append(window)
        if model is not None:
            window.session.set_model(model, str(model_path))
        if views is not None:
            window.session.set_views(views)
        window.show()
        qtbot.waitExposed(window)
        return window

    yield make
    while windows:
        window = windows.pop()
        window.close()
        assert window.worker.isFinished(), "the inference thread outlived its window"
        window.deleteLater()
        del window
    qtbot.wait(20)  # deleteLater acts in an event loop
    gc.collect()  # pyqtgraph's parentless plot menus go with their Python owners
    leaked = [w for w in QApplication.topLevelWidgets() if id(w) not in before]
    assert not leaked, f"widgets left open: {leaked}"
