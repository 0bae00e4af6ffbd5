"""Run fuzz cases in a child process (tests/fuzz/fuzz_worker.py) under the invariant of issue 12:

    load_views / load_model return a sane ViewSet or model (what was skipped listed with why), or raise
    a GQNError naming the file; within TIMEOUT_S seconds; within MEMORY_MB of memory.

A case that hangs is killed (and the worker restarted); one that crashes the worker is a "crash".
Both the quick profile (pytest) and the long one (`make fuzz`, tests/fuzz/run.py) use this.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import stat
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from fuzz_mutators import case_rng, mutate
from fuzz_seeds import TARGETS, Seed

TIMEOUT_S = 20.0
MEMORY_MB = 1024.0
STARTUP_TIMEOUT_S = 180.0
GOOD = ("ok", "error")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Outcome:
    status: str          # ok | error | unnamed | bad-result | raw | timeout | crash | memory | harness
    detail: str = ""
    seconds: float = 0.0
    peak_mb: float = 0.0

    @property
    def good(self) -> bool:
        return self.status in GOOD


@dataclass
class Case:
    fmt: str
    number: int          # case_rng(fmt, number) made its mutations
    mutations: list[str]
    outcome: Outcome

    def __str__(self) -> str:
        outcome = self.outcome
        return f"{self.fmt} #{self.number}: {outcome.status} {outcome.detail!r:.240} <- {'; '.join(self.mutations)}"


class Worker:
    """One fuzz_worker.py child; `run` sends it a case and waits at most timeout_s for the answer."""

    def __init__(self, warmup: list[tuple[str, Path]] = (), timeout_s: float = TIMEOUT_S,
                 memory_mb: float = MEMORY_MB) -> None:
        self.warmup, self.timeout_s, self.memory_mb = list(warmup), timeout_s, memory_mb
        self.process: subprocess.Popen | None = None
        self.cwd = tempfile.mkdtemp(prefix="gqn-fuzz-cwd-")  # relative paths in a case resolve in here

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fuzz_worker.py"))],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        cwd=self.cwd, env=env, text=True, start_new_session=True)
        if self._answer(STARTUP_TIMEOUT_S) is None:
            raise RuntimeError("the fuzz worker did not start")
        for target, path in self.warmup:  # first loads import plugins and compile: not the cases' memory
            self.run(target, path, path)

    def _answer(self, timeout: float) -> dict | None:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        return json.loads(line) if line else None

    def run(self, target: str, path: Path, root: Path) -> Outcome:
        if self.process is None or self.process.poll() is not None:
            self.start()
        self.process.stdin.write(json.dumps({"target": target, "path": str(path), "root": str(root)}) + "\n")
        self.process.stdin.flush()
        answer = self._answer(self.timeout_s)
        if answer is None:
            status = "timeout" if self.process.poll() is None else "crash"
            self.kill()
            return Outcome(status, f"no answer within {self.timeout_s:.0f} s" if status == "timeout"
                           else "the worker process died")
        outcome = Outcome(answer["status"], answer["detail"], answer["seconds"], answer["peak_mb"] or 0.0)
        if outcome.peak_mb > self.memory_mb:
            outcome = Outcome("memory", f"{outcome.peak_mb:.0f} MB ({outcome.status}: {outcome.detail})",
                              outcome.seconds, outcome.peak_mb)
        return outcome

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.cwd, ignore_errors=True)


def run_case(worker: Worker, fmt: str, seed: Seed, number: int, workdir: Path, keep: Path | None = None) -> Case:
    """Copy the seed, mutate it with case_rng(fmt, number), load it in the worker; keep it if it fails."""
    case_dir = Path(workdir) / f"{fmt}-{number}"
    shutil.rmtree(case_dir, ignore_errors=True)
    shutil.copytree(seed.folder, case_dir, symlinks=True)
    mutations = mutate(case_dir, case_rng(fmt, number))
    path = case_dir / seed.path.relative_to(seed.folder)
    case = Case(fmt, number, mutations, worker.run(seed.target, path, case_dir))
    if keep is not None and not case.outcome.good:
        saved = Path(keep) / case_dir.name
        shutil.rmtree(saved, ignore_errors=True)
        shutil.copytree(case_dir, saved, symlinks=True, ignore=_special_files)  # a named pipe cannot be copied
        (saved.parent / f"{case_dir.name}.txt").write_text(f"{case}\n")
    shutil.rmtree(case_dir, ignore_errors=True)
    return case


def _special_files(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if not os.path.islink(os.path.join(folder, name))
            and stat.S_ISFIFO(os.lstat(os.path.join(folder, name)).st_mode)]


def checker(worker: Worker, label: str = "", record: Callable[[Case], None] | None = None,
            strict: bool = True) -> Callable[[str, Path, Path], None]:
    """check(fmt, case_dir, path) for fuzz_properties: load in the worker, record the Case (under
    `label` when given), and assert the invariant when strict (hypothesis then shows the example)."""
    def check(fmt: str, case_dir: Path, path: Path) -> None:
        case = Case(label or fmt, 0, [f"hypothesis example for {fmt}"], worker.run(TARGETS[fmt], path, case_dir))
        if record is not None:
            record(case)
        assert not strict or case.outcome.good, str(case)
    return check


def tally(cases: list[Case]) -> dict:
    """Counts per format and status, and raw exceptions by type."""
    per_format: dict[str, Counter] = {}
    raw = Counter()
    for case in cases:
        per_format.setdefault(case.fmt, Counter())[case.outcome.status] += 1
        if case.outcome.status == "raw":
            raw[case.outcome.detail.removeprefix("gqn info: ").split(" ", 1)[0]] += 1
    return {"per_format": per_format, "raw": raw}
