"""`make fuzz`: the long fuzz profile. Mutates valid seeds of every format (tests/fuzz/fuzz_seeds.py) into
--cases broken inputs with the seeded mutators, then runs every hypothesis property of
fuzz_properties.py for --examples examples; loads each case in a worker process and prints a table:
cases per format, what happened (loaded, clear GQNError, or a failure of the invariant), raw
exceptions by type, timeouts, runs over 1 GB. Failing seeded cases are kept under --keep with a line
saying how each was made; a failing hypothesis example is described in the table's list.

    python tests/fuzz/run.py --cases 10000 --workers 2
    python tests/fuzz/run.py --formats tfrecord --first 417 --cases 1 --examples 0   # rebuild one case

Exit status 0 only when every case met the invariant.
"""

from __future__ import annotations

import argparse
import itertools
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hypothesis import Phase, settings  # noqa: E402

from fuzz_harness import MEMORY_MB, TIMEOUT_S, Case, Outcome, Worker, checker, run_case, tally  # noqa: E402
from fuzz_properties import PROPERTIES, QUICK  # noqa: E402
from fuzz_seeds import TARGETS, make_seeds  # noqa: E402

STATUSES = ["ok", "error", "unnamed", "bad-result", "raw", "timeout", "crash", "memory", "harness"]
HEADINGS = {"ok": "loaded", "error": "GQNError", "unnamed": "unnamed", "bad-result": "bad result", "raw": "raw exc",
            "timeout": "timeout", "crash": "crash", "memory": f"> {MEMORY_MB / 1024:.0f} GB", "harness": "fuzzer bug"}


def run(formats: list[str], cases: int, first: int, workers: int, keep: Path | None, examples: int = 0,
        progress: bool = True) -> list[Case]:
    """`cases` seeded cases spread over `formats` (numbers first, first+1, ... per format), on `workers`
    workers; then `examples` examples of each hypothesis property."""
    with tempfile.TemporaryDirectory(prefix="gqn-fuzz-") as tmp:
        seeds = make_seeds(Path(tmp) / "seeds")
        per_format = -(-cases // len(formats))
        jobs: queue.Queue = queue.Queue()
        for number, fmt in itertools.product(range(first, first + per_format), formats):
            jobs.put((fmt, number))
        results: list[Case] = []
        lock = threading.Lock()
        start = time.monotonic()

        def serve(index: int) -> None:
            worker = Worker(warmup=[(seed.target, seed.path) for seed in seeds.values()])
            workdir = Path(tmp) / f"cases-{index}"
            try:
                while True:
                    try:
                        fmt, number = jobs.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        case = run_case(worker, fmt, seeds[fmt], number, workdir, keep)
                    except Exception as error:  # noqa: BLE001 -- a bug of the fuzzer: counted, not fatal
                        case = Case(fmt, number, [], Outcome("harness", f"{type(error).__name__}: {error}"))
                    with lock:
                        results.append(case)
                        done = len(results)
                    if progress and (done % 200 == 0 or not case.outcome.good):
                        line = f"{done} cases, {time.monotonic() - start:.0f} s"
                        print(line if case.outcome.good else f"{line}  FAIL {case}", file=sys.stderr, flush=True)
            finally:
                worker.close()

        threads = [threading.Thread(target=serve, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if examples:
            results += run_properties(seeds, Path(tmp) / "properties", examples)
    return sorted(results, key=lambda c: (c.fmt, c.number))


def run_properties(seeds: dict, workdir: Path, examples: int) -> list[Case]:
    """Every hypothesis property for `examples` examples; failures are counted, not shrunk or raised."""
    results: list[Case] = []
    worker = Worker(warmup=[(seed.target, seed.path) for seed in seeds.values()])
    try:
        for name, prop in PROPERTIES.items():
            workdir.mkdir(parents=True, exist_ok=True)
            check = checker(worker, f"hypothesis: {name}", results.append, strict=False)
            settings(**{**QUICK, "max_examples": examples, "phases": [Phase.explicit, Phase.generate]})(
                prop(seeds, workdir, check))()
            print(f"hypothesis: {name}: {examples} examples", file=sys.stderr, flush=True)
    finally:
        worker.close()
    return results


def table(results: list[Case]) -> str:
    counts = tally(results)
    widths = [max(len(c.fmt) for c in results), 7] + [max(9, len(HEADINGS[s])) for s in STATUSES] + [7, 7]
    rows = [["format", "cases"] + [HEADINGS[s] for s in STATUSES] + ["max s", "max MB"]]
    for fmt in sorted(counts["per_format"]) + ["total"]:
        chosen = [c for c in results if fmt in (c.fmt, "total")]
        row = counts["per_format"].get(fmt) or sum(counts["per_format"].values(), start=type(counts["raw"])())
        rows.append([fmt, len(chosen)] + [row.get(s, 0) for s in STATUSES] +
                    [f"{max((c.outcome.seconds for c in chosen), default=0):.2f}",
                     f"{max((c.outcome.peak_mb for c in chosen), default=0):.0f}"])
    lines = ["  ".join(str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.append("raw exceptions by type: " + (", ".join(f"{k} {v}" for k, v in counts["raw"].most_common()) or "none"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases in all, spread evenly over the formats")
    parser.add_argument("--formats", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--first", type=int, default=0, help="number of each format's first case")
    parser.add_argument("--examples", type=int, default=250, help="examples of each hypothesis property")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (one core each)")
    parser.add_argument("--keep", type=Path, default=Path("fuzz-failures"), help="failing cases are copied here")
    args = parser.parse_args(argv)
    start = time.monotonic()
    results = run(args.formats, args.cases, args.first, args.workers, args.keep, args.examples)
    print(table(results))
    planned = -(-args.cases // len(args.formats)) * len(args.formats) + args.examples * len(PROPERTIES)
    assert len(results) == planned, f"{len(results)} cases ran, {planned} were planned"
    failures = [c for c in results if not c.outcome.good]
    for case in failures[:30]:
        print(f"FAIL {case}")
    print(f"{len(results)} cases in {time.monotonic() - start:.0f} s; limits {TIMEOUT_S:.0f} s and {MEMORY_MB:.0f} MB "
          f"per case; {len(failures)} failed" + (f" (kept in {args.keep}/)" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
