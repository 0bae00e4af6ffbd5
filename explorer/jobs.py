"""Long jobs as child processes of the CLI (`python -m gqn … --json`): JSON lines in, progress out.

The child gets its own session (process group) so Cancel ends it and everything it started. A
child that crashes or prints garbage becomes a message, never a dead app.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections import deque

import pyqtgraph as pg
from PySide6.QtCore import Qt, QObject, QProcess, QProcessEnvironment, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QProgressBar, QPushButton, QVBoxLayout

from explorer import theme
from explorer.labels import ShrinkingLabel

KILL_AFTER_MS = 3000     # SIGTERM first; SIGKILL if the child is still there after this
PLOTTED = ("loss", "psnr", "baseline_nearest_psnr", "baseline_ibr_psnr")  # fields of `gqn fit --json` lines
LABELS = {"psnr": "held-out PSNR", "baseline_nearest_psnr": "nearest photo", "baseline_ibr_psnr": "classical",
          "images_per_s": "images/s"}  # what the status line calls a field (others keep their names)


class ChildJob(QObject):
    progress = Signal(dict)     # each {"event": "progress", ...} line
    finished = Signal(dict)     # the last JSON line of a successful run: the result
    failed = Signal(str)        # why it did not finish (crash, error line, non-zero exit)
    cancelled = Signal()

    def __init__(self, title: str, args: list[str], parent=None) -> None:
        super().__init__(parent)
        self.title = title
        self.args = args
        self.process = QProcess(self)
        self.result: dict | None = None
        self.error: str | None = None
        self._buffer = b""
        self._stderr: deque[str] = deque(maxlen=20)
        self._cancelling = False
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)

    def start(self) -> None:
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        self.process.setProcessEnvironment(env)
        params = QProcess.UnixProcessParameters()
        params.flags = QProcess.UnixProcessFlag.CreateNewSession
        self.process.setUnixProcessParameters(params)
        self.process.start(sys.executable, self.args)

    def running(self) -> bool:
        return self.process.state() != QProcess.NotRunning

    def cancel(self) -> None:
        """End the child and its whole process group: SIGTERM now, SIGKILL if it lingers."""
        if not self.running():
            return
        self._cancelling = True
        self._signal_group(signal.SIGTERM)
        QTimer.singleShot(KILL_AFTER_MS, self._kill)

    def _kill(self) -> None:
        if self.running():
            self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: int) -> None:
        pid = self.process.processId()
        if pid > 0:
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                pass

    def _read_stdout(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._handle(line.decode("utf-8", "replace").strip())

    def _handle(self, line: str) -> None:
        if not line.startswith("{"):
            return
        try:
            data = json.loads(line)
        except ValueError:
            return
        if data.get("event") == "progress":
            self.progress.emit(data)
        elif data.get("event") == "error":
            self.error = str(data.get("error"))
        else:
            self.result = data

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        self._stderr.extend(line for line in text.splitlines() if line.strip())

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        self._handle(self._buffer.decode("utf-8", "replace").strip())
        self._read_stderr()
        if self._cancelling:
            self.cancelled.emit()
        elif status == QProcess.NormalExit and code == 0 and self.result is not None:
            self.finished.emit(self.result)
        else:
            self.failed.emit(self._why(code, status))

    def _why(self, code: int, status: QProcess.ExitStatus) -> str:
        if self.error:
            return f"{self.title} failed: {self.error}"
        last = self._stderr[-1] if self._stderr else ""
        if status == QProcess.CrashExit:
            return f"{self.title} crashed. {last}".strip()
        if code == 0:
            return f"{self.title} ended without a result. {last}".strip()
        return f"{self.title} failed (exit code {code}). {last}".strip()

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.FailedToStart:
            self.failed.emit(f"{self.title} could not start: {self.process.errorString()}")


class JobPanel(QFrame):
    """Progress of the running job with a Cancel button; a live loss/PSNR plot for fitting."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.title = ShrinkingLabel()
        self.title.setObjectName("CardTitle")
        self.status = ShrinkingLabel()
        self.status.setObjectName("Muted")
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.plot: pg.GraphicsLayoutWidget | None = None  # made on the first fit (pyqtgraph menus are costly)
        self.history: dict[str, list[tuple[float, float]]] = {key: [] for key in PLOTTED}  # (step, value)
        self.latest: dict = {}  # the newest value of each field of the progress lines
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.hide()

    def _make_plot(self) -> None:
        self.plot = pg.GraphicsLayoutWidget()
        self.plot.setBackground(theme.PANEL)
        self.plot.setFixedHeight(130)
        loss_plot, psnr_plot = self.plot.addPlot(title="loss"), self.plot.addPlot(title="PSNR (dB)")
        small = QFont()
        small.setPointSize(8)
        for p in (loss_plot, psnr_plot):
            p.showGrid(x=True, y=True, alpha=0.15)
            p.setMouseEnabled(x=False, y=False)
            for side in ("left", "bottom"):
                axis = p.getAxis(side)
                axis.setTextPen(theme.MUTED)
                axis.setPen(theme.BORDER)
                axis.setStyle(tickFont=small, tickTextOffset=4)
                axis.enableAutoSIPrefix(False)
            p.getAxis("left").setWidth(44)
        self.loss_curve = loss_plot.plot(pen=pg.mkPen(theme.CONTEXT, width=2))
        self.psnr_curve = psnr_plot.plot(pen=pg.mkPen(theme.IMAGINED, width=2), symbol="o", symbolSize=5,
                                         symbolBrush=theme.IMAGINED, symbolPen=None)  # validated at checkpoints
        self.baseline_curve = psnr_plot.plot(pen=pg.mkPen(theme.MUTED, width=1, style=Qt.DashLine), symbol="t",
                                             symbolSize=5, symbolBrush=theme.MUTED, symbolPen=None)
        self.ibr_curve = psnr_plot.plot(pen=pg.mkPen(theme.CONTEXT, width=1, style=Qt.DotLine), symbol="s",
                                        symbolSize=4, symbolBrush=theme.CONTEXT, symbolPen=None)
        self.psnr_plot = psnr_plot
        self._title_psnr(False)
        self.layout().addWidget(self.plot)

    def _title_psnr(self, classical: bool) -> None:
        """The PSNR plot's title is its legend; the classical baseline joins it once a line reports it."""
        extra = f" <span style='color:{theme.CONTEXT}'>■ classical</span>" if classical else ""
        self.psnr_plot.setTitle(f"held-out PSNR (dB) <span style='color:{theme.MUTED}'>▲ nearest photo</span>{extra}")

    def begin(self, title: str, with_plot: bool = False) -> None:
        self.title.setText(title)
        self.status.setText("starting…")
        self.bar.setRange(0, 0)  # busy until the first progress line says how much there is
        self.bar.setFormat("%p%")
        self.history = {key: [] for key in PLOTTED}
        self.latest = {}
        if with_plot and self.plot is None:
            self._make_plot()
        if self.plot is not None:
            self._title_psnr(False)
        if self.plot is not None:
            for curve in self.curves().values():
                curve.setData([], [])
            self.plot.setVisible(with_plot)
        self.cancel_button.setEnabled(True)
        self.show()

    def update_progress(self, data: dict) -> None:
        done, total = data.get("done"), data.get("total")
        if isinstance(done, (int, float)) and isinstance(total, (int, float)) and total > 0:
            self.bar.setRange(0, int(total))
            self.bar.setValue(int(done))
            self.bar.setFormat(f"{data['stage']}: %v / %m" if "stage" in data else "%v / %m")
        self.latest.update({k: v for k, v in data.items() if k not in ("event", "done", "total", "stage")
                            and isinstance(v, (int, float, str))})  # the last value of every field so far
        shown = (f"{v:.4g}" if isinstance(v, float) else str(v) for v in self.latest.values())
        self.status.setText(" · ".join(f"{LABELS.get(k, k)} {v}" for k, v in zip(self.latest, shown)))
        step = float(data.get("step", done or 0))
        for key in PLOTTED:
            if isinstance(data.get(key), (int, float)):
                self.history[key].append((step, float(data[key])))
        if self.plot is not None:
            for key, curve in self.curves().items():
                if self.history[key]:
                    curve.setData(*zip(*self.history[key]))
            if "baseline_ibr_psnr" in data:
                self._title_psnr(True)

    def curves(self) -> dict:
        return {"loss": self.loss_curve, "psnr": self.psnr_curve, "baseline_nearest_psnr": self.baseline_curve,
                "baseline_ibr_psnr": self.ibr_curve}

    def end(self) -> None:
        self.hide()
