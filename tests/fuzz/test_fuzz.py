"""The quick fuzz profile (part of `make test`): a few seeded mutants of every format and a few
hypothesis examples of every property, each loaded in the worker under issue 12's invariant: a sane
ViewSet or model, or a GQNError naming the file; within 20 s and 1 GB. `make fuzz` runs the same
code on 10,000+ cases (tests/fuzz/run.py)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from fuzz_harness import checker, run_case
from fuzz_properties import PROPERTIES, QUICK
from fuzz_seeds import TARGETS

CASES_PER_FORMAT = 24


@pytest.mark.parametrize("fmt", list(TARGETS))
def test_seeded_mutants_meet_the_invariant(fmt, fuzz_seeds, fuzz_worker, tmp_path):
    cases = [run_case(fuzz_worker, fmt, fuzz_seeds[fmt], number, tmp_path) for number in range(CASES_PER_FORMAT)]
    failures = [str(case) for case in cases if not case.outcome.good]
    assert not failures, "\n".join(failures)
    assert any(case.outcome.status == "ok" for case in cases) or fmt == "photos", "no mutant loaded: seed broken?"


@pytest.mark.parametrize("name", list(PROPERTIES))
def test_hypothesis_properties_meet_the_invariant(name, fuzz_seeds, fuzz_worker, tmp_path):
    settings(**QUICK)(PROPERTIES[name](fuzz_seeds, tmp_path, checker(fuzz_worker)))()


def test_the_harness_flags_what_it_is_there_to_flag(fuzz_seeds, fuzz_worker, tmp_path):
    """The harness itself can fail a case: an error naming no file of the case, a timeout, memory."""
    seed = fuzz_seeds["nerf-png"]
    assert fuzz_worker.run("views", tmp_path / "missing", tmp_path / "elsewhere").status == "unnamed"
    assert fuzz_worker.run(seed.target, seed.path, seed.folder).status == "ok"
    limits = fuzz_worker.timeout_s, fuzz_worker.memory_mb
    try:
        fuzz_worker.memory_mb = -1.0  # any load uses at least nothing
        assert fuzz_worker.run(seed.target, seed.path, seed.folder).status == "memory"
        fuzz_worker.timeout_s = 0.001  # no load is this quick: the worker is killed, then restarted
        assert fuzz_worker.run(seed.target, seed.path, seed.folder).status == "timeout"
    finally:
        fuzz_worker.timeout_s, fuzz_worker.memory_mb = limits
    assert fuzz_worker.run(seed.target, seed.path, seed.folder).status == "ok"
