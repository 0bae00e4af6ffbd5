"""The inference thread on its own: newest request wins, errors become signals, stop is clean."""

import threading

import numpy as np
import pytest

from explorer.worker import InferenceWorker


@pytest.fixture
def worker(qtbot):
    worker = InferenceWorker()
    worker.start()
    yield worker
    worker.stop()
    assert worker.isFinished()


def hold(worker):
    """Keep the worker busy with a job until the returned Event is set."""
    release = threading.Event()
    worker.submit_job(lambda predictor, progress, cancelled: release.wait(10))
    return release


def test_a_burst_runs_only_the_newest_request(qtbot, worker, model, scene):
    results = []
    worker.prediction.connect(results.append)
    release = hold(worker)
    with qtbot.waitSignal(worker.job_finished):
        seqs = [worker.submit(model, scene, (0, 1), c2w, samples=1, draft=True) for c2w in np.resize(scene.c2w, (50, 4, 4))]
        release.set()
    qtbot.waitUntil(lambda: len(results) == 1)
    qtbot.wait(50)
    assert worker.inferences == 1 and len(results) == 1
    assert results[0].seq == seqs[-1]
    np.testing.assert_array_equal(results[0].c2w, scene.c2w[49 % len(scene)])


def test_full_requests_average_samples_and_measure_their_spread(qtbot, worker, model, scene):
    with qtbot.waitSignal(worker.prediction) as signal:
        worker.submit(model, scene, (0, 1), scene.c2w[3], samples=3, draft=False, truth=lambda c2w: scene.images[3])
    prediction = signal.args[0]
    assert prediction.mean.shape == (32, 32, 3) and prediction.mean.dtype == np.uint8
    assert prediction.std.shape == (32, 32) and prediction.std.min() >= 0.0
    np.testing.assert_array_equal(prediction.truth, scene.images[3])
    assert not prediction.draft and prediction.samples == 3


def test_errors_become_signals_and_the_thread_goes_on(qtbot, worker, model, scene):
    with qtbot.waitSignal(worker.failed) as signal:
        worker.submit(model, scene, (), scene.c2w[0], samples=1, draft=True)  # no context views
    assert "context" in signal.args[1]
    with qtbot.waitSignal(worker.prediction):
        worker.submit(model, scene, (0,), scene.c2w[0], samples=1, draft=True)


def test_stop_while_busy_cancels_the_job(qtbot, model, scene):
    worker = InferenceWorker()
    worker.start()
    started = threading.Event()

    def endless(predictor, progress, cancelled):
        started.set()
        while not cancelled():
            predictor.predict(model, scene, (0,), scene.c2w[1], samples=1)

    worker.submit_job(endless)
    assert started.wait(10)
    worker.submit(model, scene, (0,), scene.c2w[0], samples=1, draft=True)
    worker.stop()
    assert worker.isFinished()
