"""The child process that loads fuzz cases, so that a hang can be killed and memory measured per case.

Protocol: one JSON line in per case, {"target": "views" | "model", "path": ..., "root": ...}; one JSON
line out, {"status", "detail", "seconds", "peak_mb"}. Statuses decided here:
    ok          load_views/load_model returned a sane ViewSet/model
    error       a GQNError whose message names a file of the case (under "root")
    unnamed     a GQNError that names no file of the case
    bad-result  it loaded, but the result is not sane (no views, NaN poses or weights, bad sizes)
    raw         any other exception escaped: its type and the line it came from
`gqn info` (gqn.data.info.describe) runs on every case too, under the same invariant.
Peak memory is the growth of the resident set during the case (VmHWM, reset before each case).
An address-space limit a few GB above the start keeps a runaway allocation from taking the machine.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import time
import traceback

ADDRESS_SPACE_HEADROOM = 3 << 30
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def _sane_views(views) -> str | None:
    import numpy as np
    from gqn import camera
    if len(views) == 0 or views.images.ndim != 4 or min(views.images.shape[1:3]) < 1:
        return f"images of shape {views.images.shape}"
    if not camera.valid_poses(views.c2w).all():
        return "a pose is not rigid or not finite"
    k = views.intrinsics
    if not (np.isfinite(k).all() and (k[:, :2] > 0).all()):
        return f"intrinsics {k[:1].tolist()} not finite and positive"
    if not all(isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("reason"), str)
               for s in views.skipped):
        return f"skipped is not a list of {{name, reason}}: {views.skipped[:2]!r:.100}"
    return None


def _sane_model(model) -> str | None:
    import torch
    for name, tensor in model.state_dict().items():
        if not torch.isfinite(tensor).all():
            return f"weight {name} is not finite"
    return None


def load(target: str, path: str) -> str | None:
    """load_views / load_model; None when the result is sane, else what is wrong with it."""
    from gqn import load_model, load_views
    return _sane_views(load_views(path)) if target == "views" else _sane_model(load_model(path))


def info(target: str, path: str) -> None:
    """What `gqn info --json` prints must be valid JSON."""
    from gqn.data.info import describe
    json.dumps(describe(path), allow_nan=False)


def classify(call, target: str, path: str, root: str) -> tuple[str, str]:
    from gqn.errors import GQNError
    try:
        problem = call(target, path)
    except GQNError as error:
        text = str(error)
        return ("error" if root in text else "unnamed"), text[:300]
    except Exception as error:  # noqa: BLE001 -- this is what the fuzzer is looking for
        frame = traceback.extract_tb(error.__traceback__)[-1]
        where = f"{frame.filename.split('site-packages/')[-1].replace(REPO, '')}:{frame.lineno}"
        return "raw", f"{type(error).__name__} at {where}: {str(error)[:200]}"
    return ("ok", "") if problem is None else ("bad-result", problem)


def run_case(target: str, path: str, root: str) -> tuple[str, str]:
    """The loader's outcome, unless `gqn info` on the same path breaks the invariant."""
    outcome = classify(load, target, path, root)
    described = classify(info, target, path, root)
    return outcome if described[0] in ("ok", "error") else (described[0], f"gqn info: {described[1]}")


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the code under test prints goes to stderr, not into the protocol
    import torch
    torch.set_num_threads(1)
    import gqn.data.info, gqn.nn.model  # noqa: F401,E401 -- imported once, before the limit
    vm_size = _status_kb("VmSize") * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm_size + ADDRESS_SPACE_HEADROOM, resource.RLIM_INFINITY))
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        case = json.loads(line)
        rss = _status_kb("VmRSS")
        _reset_peak()
        start = time.perf_counter()
        status, detail = run_case(case["target"], case["path"], case["root"])
        seconds = time.perf_counter() - start
        peak_mb = max(0, _status_kb("VmHWM") - rss) / 1024
        protocol.write(json.dumps({"status": status, "detail": detail, "seconds": round(seconds, 3),
                                   "peak_mb": round(peak_mb, 1) if math.isfinite(peak_mb) else None}) + "\n")


if __name__ == "__main__":
    main()
