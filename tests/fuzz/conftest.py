"""Fixtures of the fuzz suite: valid seeds of every format, and one worker process that loads cases
(shared by the whole session: it takes seconds to start)."""

from __future__ import annotations

import pytest

from fuzz_harness import Worker
from fuzz_seeds import make_seeds


@pytest.fixture(scope="session")
def fuzz_seeds(tmp_path_factory):
    return make_seeds(tmp_path_factory.mktemp("fuzz-seeds"))


@pytest.fixture(scope="session")
def fuzz_worker(fuzz_seeds):
    worker = Worker(warmup=[(seed.target, seed.path) for seed in fuzz_seeds.values()])
    yield worker
    worker.close()
