"""Explorer responsiveness: viewport frame time, pose change -> draft/full image, UI stalls while dragging,
next-best-view time, memory.

    xvfb-run -a -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb python benchmarks/bench_explorer.py [--model DIR]
        [--capture PATH]

Prints one JSON object. Goals (issues 4 and 13): frames <= 33 ms at 1280×800 on Mesa llvmpipe, with 100
frustums and with a 100-photo capture's frustums, photos and sparse points; longest UI-thread stall while
dragging <= 50 ms; peak memory <= 1 GB. Without --model it uses resources/models/default, or an untrained
model of the default preset (same cost as a trained one). The capture is one made here (100 photos of the
project's textured-box scene with sparse points on its surfaces), or any PATH the app opens (--capture).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEventLoop, QPointF, Qt, QTimer  # noqa: E402

QCoreApplication.setAttribute(Qt.AA_ShareOpenGLContexts)
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from explorer import loading, theme  # noqa: E402
from explorer.main_window import MainWindow  # noqa: E402
from explorer.viewport import Viewport  # noqa: E402
from explorer.session import Session  # noqa: E402


def wait_for(signal, timeout_ms: int = 30000, check=lambda *args: True) -> tuple:
    """Run the event loop until `signal` fires with arguments passing `check`; returns them."""
    loop, got = QEventLoop(), []

    def on_signal(*args):
        if check(*args):
            got.extend(args)
            loop.quit()

    signal.connect(on_signal)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(on_signal)
    if not got:
        raise TimeoutError(f"no {signal} within {timeout_ms} ms")
    return tuple(got)


def frame_times(viewport: Viewport, frames: int) -> list[float]:
    """ms to draw one frame (paintGL until the GPU, here Mesa llvmpipe, has finished), turning the
    viewport camera a little each frame."""
    from OpenGL import GL
    times = []
    viewport.makeCurrent()
    ratio = viewport.devicePixelRatioF()
    GL.glViewport(0, 0, int(viewport.width() * ratio), int(viewport.height() * ratio))
    for _ in range(frames):
        viewport.orbit(1.5, 0.0)
        start = time.perf_counter()
        viewport.paintGL()
        GL.glFinish()
        times.append(1000 * (time.perf_counter() - start))
    viewport.doneCurrent()
    return times


def box_capture(photos: int, points: int, seed: int = 0):
    """`photos` photos of gqn.data.photo_scene's boxes with `points` sparse points on the boxes and the
    ground, coloured by a photo that sees them: what `gqn poses` gives for such a capture."""
    import numpy as np
    from gqn import camera
    from gqn.data import photo_scene
    from gqn.data.viewset import ViewSet

    images, c2w, intrinsics = photo_scene.render_photos(photos, 160, 120, seed=seed)
    scene, rng = photo_scene.make_scene(seed), np.random.default_rng(seed)
    box = rng.integers(0, len(scene.box_min), points)
    on_box = rng.uniform(scene.box_min[box], scene.box_max[box])
    axis = rng.integers(0, 3, points)                                    # snap one coordinate onto a face
    side = rng.integers(0, 2, points).astype(bool)
    on_box[np.arange(points), axis] = np.where(side, scene.box_max[box, axis], scene.box_min[box, axis])
    ground = np.concatenate([rng.uniform(-4, 4, (points, 2)), np.zeros((points, 1))], 1)
    xyz = np.where(rng.random((points, 1)) < 0.5, on_box, ground).astype(np.float32)
    colors = np.full((points, 3), 128, np.uint8)
    for image, pose in zip(images, c2w):
        uv, depth = camera.project(xyz, pose, intrinsics)
        seen = (depth > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < 160) & (uv[:, 1] >= 0) & (uv[:, 1] < 120)
        colors[seen] = image[uv[seen, 1].astype(int), uv[seen, 0].astype(int)]
    return ViewSet(images, c2w, np.tile(intrinsics, (photos, 1)), source="box capture", points=xyz,
                   point_colors=colors)


def pose_latencies(window: MainWindow, repeats: int) -> tuple[list[float], list[float]]:
    """ms from a pose change to its draft drawn, and to its full view drawn (settle time included)."""
    drafts, fulls = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        window.session.orbit(7.0, 0.0)
        pose = window.session.camera.c2w.copy()
        same = lambda p: (p.c2w == pose).all()  # noqa: E731
        wait_for(window.viewDrawn, check=lambda p: p.draft and same(p))
        drafts.append(1000 * (time.perf_counter() - start))
        wait_for(window.viewDrawn, check=lambda p: not p.draft and same(p))
        fulls.append(1000 * (time.perf_counter() - start))
    return drafts, fulls


def drag_stalls(window: MainWindow, seconds: float) -> list[float]:
    """Drag the generated image with a mouse move every 16 ms; the gaps between ticks beyond 16 ms
    are the UI thread's stalls (inference, drawing, anything that blocks the event loop)."""
    view = window.view_panel.generated_view
    centre = view.rect().center()
    QTest.mousePress(view, Qt.LeftButton, Qt.NoModifier, centre)
    ticks, clock, timer, loop = [], QElapsedTimer(), QTimer(), QEventLoop()
    clock.start()

    def tick():
        ticks.append(clock.nsecsElapsed() / 1e6)
        dx = 3 * (len(ticks) % 40 - 20)
        QTest.mouseMove(view, centre + QPointF(dx, 0).toPoint())
        if ticks[-1] > 1000 * seconds:
            loop.quit()

    timer.timeout.connect(tick)
    timer.start(16)
    loop.exec()
    timer.stop()
    QTest.mouseRelease(view, Qt.LeftButton, Qt.NoModifier, centre)
    return [b - a for a, b in zip(ticks, ticks[1:])]


def next_view_timing(window: MainWindow) -> dict[str, float]:
    """The next-best-view guide with its defaults (200 candidates × 8 samples): seconds from the
    button to the heat map shown (and the CPU seconds the process spent: less sensitive to a shared
    machine), and the UI thread's longest stall meanwhile (scoring has its own thread)."""
    guide = window.next_view
    ticks, clock, timer = [], QElapsedTimer(), QTimer()
    timer.timeout.connect(lambda: ticks.append(clock.nsecsElapsed() / 1e6))
    cpu = time.process_time()
    clock.start()
    timer.start(16)
    window.next_view_action.trigger()
    wait_for(guide.ranked, timeout_ms=600000)
    seconds, cpu = clock.nsecsElapsed() / 1e9, time.process_time() - cpu
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    return {"candidates": guide.count, "samples": guide.samples, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "ui_stall_ms_longest": round(max(gaps, default=16.0) - 16, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the shipped one, else an untrained default preset)")
    parser.add_argument("--views", type=int, default=100, help="frustums in the viewport")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--drag-seconds", type=float, default=5.0)
    parser.add_argument("--capture", help="a capture to draw (default: 100 rendered photos with sparse points)")
    parser.add_argument("--points", type=int, default=50000, help="sparse points of the rendered capture")
    args = parser.parse_args()

    import torch
    from gqn import GQN, load_model, presets
    from gqn.scenes import render_views

    app = QApplication([])
    if app.platformName() == "offscreen":
        sys.exit("bench_explorer needs an OpenGL platform: run it under xvfb-run with QT_QPA_PLATFORM=xcb")
    theme.apply(app)
    if args.model or loading.is_model_folder(loading.DEFAULT_MODEL):
        model_path = args.model or str(loading.DEFAULT_MODEL)
        model = load_model(model_path)
    else:
        model_path = "untrained default preset"
        model = GQN(presets["default"]).eval()
    size = model.config.image_size
    views = render_views(model.config.trained_on.get("kind", "shepard-metzler-7"), 0, args.views, size)

    # The viewport alone at 1280×800 with every frustum and photo.
    alone = Viewport(Session())
    alone.resize(1280, 800)
    alone.session.set_views(views)
    alone.show()
    QTest.qWaitForWindowExposed(alone)
    frame_times(alone, 5)  # warm-up: textures uploaded, shaders compiled
    alone_ms = frame_times(alone, args.frames)
    if args.capture:
        from gqn import load_views
        capture = load_views(args.capture)
    else:
        capture = box_capture(args.views, args.points)
    alone.session.set_views(capture)
    alone.reset_view()
    frame_times(alone, 5)
    capture_ms = frame_times(alone, args.frames)
    capture_drawn = {"photos": len(capture), "frustum_size": round(alone.session.frustum_size, 3),
                     "points": 0 if capture.points is None else len(capture.points),
                     "points_drawn": len(alone.points.pos) if alone.points.pos is not None else 0}
    alone.close()

    window = MainWindow()
    window.resize(1280, 800)
    window.session.set_model(model, model_path)
    window.session.set_views(views)
    window.show()
    QTest.qWaitForWindowExposed(window)
    wait_for(window.viewDrawn, check=lambda p: not p.draft)
    in_window_ms = frame_times(window.viewport, args.frames)
    drafts, fulls = pose_latencies(window, args.repeats)
    gaps = drag_stalls(window, args.drag_seconds)
    inferences = window.worker.inferences
    next_view = next_view_timing(window)
    window.close()

    def summary(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {"median": round(statistics.median(ordered), 1), "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
                "max": round(ordered[-1], 1)}

    print(json.dumps({
        "model": model_path, "model_parameters": model.num_parameters(), "image_size": size,
        "torch_threads": torch.get_num_threads(), "platform": app.platformName(), "frustums": args.views,
        "frame_ms_viewport_1280x800": summary(alone_ms),
        "frame_ms_capture_1280x800": {**summary(capture_ms), "capture": args.capture or "rendered", **capture_drawn},
        "frame_ms_viewport_in_window": {**summary(in_window_ms),
                                        "size": [window.viewport.width(), window.viewport.height()]},
        "pose_to_draft_ms": summary(drafts),
        "pose_to_full_ms": {**summary(fulls), "settle_ms": window.settle.interval(), "samples": window.samples},
        "drag_ui_stall_ms": {"longest": round(max(gaps) - 16, 1), "p99_gap": round(sorted(gaps)[int(0.99 * (len(gaps) - 1))], 1),
                             "ticks": len(gaps) + 1, "inferences_during_drag_and_latency_runs": inferences},
        "next_view": next_view,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
