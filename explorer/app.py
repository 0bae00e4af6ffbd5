"""`python main.py [PATH ...]` / `gqn-explorer`: the window, a screenshot of it, or a video without it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from explorer import loading
from explorer.session import Session
from gqn.errors import GQNError

SCREENSHOT_TIMEOUT_S = 120.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gqn-explorer", description="Orbit an imagined camera around a scene and watch a GQN paint what it sees.")
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="scene folder, transforms.json, COLMAP model, photo folder, dataset or model folder "
                             "(default: the demo scene)")
    parser.add_argument("--model", metavar="DIR", help="model folder (default: resources/models/default)")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="open, wait for the first full generated view, save the window as PNG and exit")
    parser.add_argument("--render-path", metavar="VIDEO",
                        help="render an orbit (or --camera-path) to .mp4/.gif without a window and exit")
    parser.add_argument("--camera-path", metavar="JSON", help="keyframes saved from the app (Camera › Camera path)")
    parser.add_argument("--frames", type=int, default=None,
                        help="frames of the video (default 72, or the path's duration × fps)")
    parser.add_argument("--fps", type=int, default=None, help="frames per second of the video (default 24)")
    parser.add_argument("--size", type=int, default=None,
                        help="pixels across each picture of a video frame (default 256; a multiple of 16 for MP4)")
    parser.add_argument("--samples", type=int, default=None,
                        help="samples averaged per full view (default 8 in the window, 4 per video frame)")
    parser.add_argument("--next-view", action="store_true",
                        help="with --screenshot: run the next-best-view guide and go to its suggestion first")
    parser.add_argument("--timeout", type=float, default=SCREENSHOT_TIMEOUT_S,
                        help="--screenshot gives up after this many seconds")
    parser.add_argument("--debug", action="store_true", help="on an unexpected error, print its full traceback")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.render_path:
        from gqn.cli import fail, report_bug
        try:
            return render_headless(args)
        except GQNError as error:
            return fail("gqn-explorer", str(error))
        except Exception as error:  # noqa: BLE001 -- a bug: one line and a traceback file, as in `gqn`
            return report_bug("gqn-explorer", error, args.debug)
    return run_window(args)


# --- headless video -----------------------------------------------------------------------------------

def load_session(paths: list[str], model_path: str | None) -> Session:
    """A Session with the given (or default) model and scene; raises GQNError on a bad path."""
    session = Session()
    model, path, why = loading.default_model(model_path)
    if model is None:
        raise GQNError(why)
    session.set_model(model, path, chosen=model_path is not None)
    if paths:
        opened = loading.open_paths(paths)
        if opened.unposed:
            raise GQNError(f"{opened.unposed[0]}: these photos have no camera poses; run `gqn poses` first")
        if opened.model is not None:
            session.set_model(opened.model, opened.model_path)
        views = opened.views
    else:
        views = None
    session.set_views(views if views is not None else loading.demo_views(session.model)[0])
    return session


def render_headless(args: argparse.Namespace) -> int:
    import numpy as np

    from explorer import export
    from explorer.camera_path import CameraPath
    from explorer.inference import Predictor

    export.check_video_path(args.render_path)  # a bad name fails now, not after the rendering
    session = load_session(args.paths, args.model)
    fps = args.fps or 24
    if args.camera_path:
        path = CameraPath.load(args.camera_path)
        fps = args.fps or path.fps
        poses = path.poses_at(np.linspace(0.0, path.duration, args.frames)) if args.frames else path.frames(fps)
    else:
        home = session.home
        poses = export.orbit_poses(args.frames or 72, session.center, home.distance, home.elevation)

    def progress(done: int, total: int) -> None:
        print(f"\rrendering frame {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    frames = export.render_frames(Predictor(), session.model, session.views, session.context, poses,
                                  args.samples or 4, 0, session.truth_renderer(), progress,
                                  frame_size=args.size or export.FRAME_SIZE)
    out = export.write_video(frames, args.render_path, fps)
    print(f"wrote {out} ({len(frames)} frames)")
    return 0


# --- the window -----------------------------------------------------------------------------------------

def populate(window, args: argparse.Namespace) -> bool:
    """Load the model and scene into the window; False if a path given on the command line failed."""
    from explorer.main_window import HINT
    session = window.session
    session.message(HINT)  # first, so that what follows (errors, offers) shows above it
    model, path, why = loading.default_model(args.model)
    if model is not None:
        session.set_model(model, path, chosen=args.model is not None)
    else:  # the scene still opens; the message offers another model
        session.message(why, "error" if args.model else "warning", "Open model…", window.open_model_dialog, topic="model")
    ok = model is not None or not args.model
    if args.paths:
        ok = window.open_paths(args.paths) and ok
    if session.views is None:
        try:
            views, note = loading.demo_views(session.model)
        except Exception as error:  # even without a demo the window opens, and says why
            session.message(f"No demo scene: {type(error).__name__}: {error}", "error")
        else:
            session.set_views(views)
            if note:
                session.message(note, "warning")
    return ok


class Screenshot:
    """Saves the window once the first full generated view is drawn, then quits with 0 (1 on failure).
    With `next_view` the next-best-view guide runs first and the imagined camera goes to its
    suggestion: the shot shows the guide and what the model imagines where it is most unsure."""

    def __init__(self, window, out: str, timeout_s: float, next_view: bool = False) -> None:
        from PySide6.QtCore import QTimer
        self.window, self.out, self.next_view = window, out, next_view
        window.viewDrawn.connect(self._on_drawn)
        window.worker.failed.connect(self._on_failed)
        window.next_view.failed.connect(self._on_guide_failed)
        window.next_view.ranked.connect(window.next_view.go_there)
        self.timer = QTimer(window)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._on_timeout)
        self.timer.start(int(timeout_s * 1000))

    def _on_drawn(self, prediction) -> None:
        if prediction.draft:
            return
        from PySide6.QtCore import QTimer
        guide = self.window.next_view
        if self.next_view and guide.ranking is None:
            if not guide.running() and not guide.start():
                self._on_guide_failed("it needs a model and a scene")
            return
        if self.next_view and not np.array_equal(prediction.c2w, guide.ranking.c2w[0]):
            return
        self.window.viewDrawn.disconnect(self._on_drawn)
        QTimer.singleShot(400, self._save)  # let the viewport repaint with the new image

    def _save(self) -> None:
        ok = self.window.grab().save(self.out)
        if ok:
            print(f"saved {self.out}")
        else:
            print(f"gqn-explorer: error: could not write {self.out}", file=sys.stderr)
        self._quit(0 if ok else 1)

    def _on_failed(self, _seq: int, text: str) -> None:
        print(f"gqn-explorer: error: inference failed: {text}", file=sys.stderr)
        self._quit(1)

    def _on_guide_failed(self, text: str) -> None:
        print(f"gqn-explorer: error: next-view guide: {text}", file=sys.stderr)
        self._quit(1)

    def _on_timeout(self) -> None:
        print("gqn-explorer: error: no full generated view was drawn in time", file=sys.stderr)
        self._quit(1)

    def _quit(self, code: int) -> None:
        from PySide6.QtWidgets import QApplication
        self.timer.stop()
        self.window.close()
        QApplication.instance().exit(code)


def run_window(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QCoreApplication, Qt
    QCoreApplication.setAttribute(Qt.AA_ShareOpenGLContexts)  # before the QApplication, or a 2nd GL view is blank
    from PySide6.QtWidgets import QApplication
    import pyqtgraph as pg

    from explorer import theme
    from explorer.main_window import SAMPLES, MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("GQN Scene Explorer")
    pg.setConfigOptions(antialias=True)
    theme.apply(app)
    window = MainWindow(samples=args.samples or SAMPLES)
    try:
        ok = populate(window, args)
        window.show()
        if args.screenshot:
            if not ok:
                text = next((m.text for m in reversed(window.session.messages) if m.level == "error"), "could not open")
                print(f"gqn-explorer: error: {text}", file=sys.stderr)
                return 2
            Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
            window.screenshot = Screenshot(window, args.screenshot, args.timeout, args.next_view)  # lives as long as the window
        return app.exec()
    finally:
        window.close()  # stops the worker thread and any child process, whatever happened
