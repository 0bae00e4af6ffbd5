"""The one inference thread: the UI thread hands it requests, it serves only the newest.

A request waiting when a newer one arrives is dropped, so a dragged camera never queues work
(nerfstudio's render state machine). Long jobs (rendering a video) run here too, between
requests, and can be cancelled; live requests made meanwhile wait for the job, newest wins.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QThread, Signal

from explorer.inference import Predictor, QueryCamera
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError


@dataclass
class Request:
    seq: int
    model: Any
    views: ViewSet
    context: tuple[int, ...]
    c2w: np.ndarray
    samples: int
    draft: bool
    seed: int = 0
    truth: Callable[[np.ndarray], np.ndarray] | None = None
    query: QueryCamera | None = None


@dataclass
class Job:
    """fn(predictor, progress(done, total), cancelled() -> bool) -> result, run on the worker."""

    fn: Callable[[Predictor, Callable[[int, int], None], Callable[[], bool]], Any]
    cancel: threading.Event


class InferenceWorker(QThread):
    prediction = Signal(object)       # explorer.inference.Prediction
    failed = Signal(int, str)         # seq, message
    job_progress = Signal(int, int)   # done, total
    job_finished = Signal(object)     # the job's result, or None when cancelled
    job_failed = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.predictor = Predictor()
        self.inferences = 0           # requests actually run (the rest were superseded)
        self._wake = threading.Condition()
        self._pending: Request | None = None
        self._job: Job | None = None
        self._stopping = False
        self._seq = 0

    # --- called from the UI thread ---------------------------------------------------------------

    def submit(self, model: Any, views: ViewSet, context: tuple[int, ...], c2w: np.ndarray, samples: int,
               draft: bool, seed: int = 0, truth: Callable[[np.ndarray], np.ndarray] | None = None,
               query: QueryCamera | None = None) -> int:
        """Ask for the view at c2w through the `query` lens; replaces any request not yet started.
        Returns its sequence number."""
        with self._wake:
            self._seq += 1
            self._pending = Request(self._seq, model, views, tuple(context), np.array(c2w), samples, draft, seed,
                                    truth, query)
            self._wake.notify()
            return self._seq

    def submit_job(self, fn: Callable[..., Any]) -> threading.Event:
        """Run a long job next; returns the Event that cancels it."""
        with self._wake:
            if self._job is not None:
                raise RuntimeError("a job is already running")
            self._job = Job(fn, threading.Event())
            self._wake.notify()
            return self._job.cancel

    @property
    def latest_seq(self) -> int:
        return self._seq

    def stop(self) -> None:
        """Finish the current step, drop the rest and end the thread (blocks until it has)."""
        with self._wake:
            self._stopping = True
            self._pending = None
            if self._job is not None:
                self._job.cancel.set()
            self._wake.notify()
        self.wait()

    # --- the thread --------------------------------------------------------------------------------

    def run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and self._pending is None and self._job is None:
                    self._wake.wait()
                if self._stopping:
                    return
                job, request = self._job, None
                if job is None:
                    request, self._pending = self._pending, None
            if job is not None:
                self._run_job(job)
            else:
                self._serve(request)

    def _serve(self, request: Request) -> None:
        self.inferences += 1
        try:
            result = self.predictor.run(request.seq, request.model, request.views, request.context, request.c2w,
                                        request.samples, request.seed, request.truth, request.draft, request.query)
            self.prediction.emit(result)
        except GQNError as error:
            self.failed.emit(request.seq, str(error))
        except Exception as error:  # a bug or a bad model must not kill the thread: say it and go on
            traceback.print_exc()
            self.failed.emit(request.seq, f"Inference failed: {type(error).__name__}: {error}")

    def _run_job(self, job: Job) -> None:
        try:
            result = job.fn(self.predictor, self.job_progress.emit, job.cancel.is_set)
            self.job_finished.emit(None if job.cancel.is_set() else result)
        except GQNError as error:
            self.job_failed.emit(str(error))
        except Exception as error:
            traceback.print_exc()
            self.job_failed.emit(f"{type(error).__name__}: {error}")
        finally:
            with self._wake:
                self._job = None
