"""Fitting the model to the open scene, without Qt: the options a person picks, the `gqn fit` command
they make, where the fitted model goes, and which checkpoint a run folder has reached."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from gqn.data.viewset import ViewSet

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEFAULT_STEPS = 300
DEFAULT_MINUTES = 10.0   # a fit's default: as many steps as fit in 10 minutes (`gqn fit --max-minutes` sizes them)
CHECKPOINTS_SHOWN = 10   # a run of N steps checkpoints (and refreshes the Generated view) about this often


@dataclass
class FitOptions:
    model: str                     # model folder or run to start from
    out: Path                      # the new run folder
    steps: int | None = DEFAULT_STEPS  # None: as many as fit in `minutes`
    minutes: float | None = None   # stop after this long (with a checkpoint) even before `steps`
    preview_every: int | None = DEFAULT_STEPS // CHECKPOINTS_SHOWN  # steps between checkpoints = live refreshes
    holdout: int = 2               # views kept out of training; the curve is their PSNR

    def args(self, scene: list[str]) -> list[str]:
        """The child process's arguments for `python`: `-m gqn fit …` on `scene` (see scene_args).
        Without steps (or a preview interval) `gqn fit` sizes them to the minutes."""
        args = ["-m", "gqn", "fit", "--model", str(self.model), *scene, "--out", str(self.out)]
        if self.steps:
            args += ["--steps", str(self.steps)]
        if self.preview_every:
            args += ["--checkpoint-every", str(max(1, self.preview_every))]
        args += ["--holdout", str(self.holdout), "--json"]
        return args + (["--max-minutes", f"{self.minutes:g}"] if self.minutes else [])


def scene_args(views: ViewSet) -> list[str] | None:
    """`--views PATH [--scene I]` naming the files behind `views`; None when there are none."""
    meta = views.meta
    if "dataset" in meta:
        return ["--views", str(meta["dataset"]), "--scene", str(meta.get("scene", 0))]
    if views.source and Path(views.source).exists():
        return ["--views", str(views.source)]
    return None


def capture_folder(source: Path) -> Path:
    """The folder that is the capture: the one holding a transforms.json, the one above COLMAP's sparse/0."""
    source = source.parent if source.is_file() else source
    while source.name in ("0", "sparse") and source.parent != source:
        source = source.parent
    return source


def default_out(views: ViewSet, fallback: Path, now: float | None = None) -> Path:
    """Beside the capture: `<folder holding it>/<capture>-fit-<date-time>` (a dataset's scene: beside
    the dataset); in `fallback` when that folder cannot be written or ships with the app (a demo)."""
    scene = scene_args(views)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    if scene is None:
        return fallback / f"scene-fit-{stamp}"
    capture = capture_folder(Path(scene[1]).resolve())
    name = f"{capture.name}-scene{scene[3]}" if "--scene" in scene else capture.name
    beside = capture.parent
    if RESOURCES in (beside, *beside.parents) or not os.access(beside, os.W_OK):
        return fallback / f"{name}-fit-{stamp}"
    return beside / f"{name}-fit-{stamp}"


def latest_checkpoint(run: Path) -> str | None:
    """The run's newest checkpoint ("checkpoints/step-40"), or None before the first."""
    try:
        return (Path(run) / "latest").read_text().strip() or None
    except OSError:
        return None


def checkpoint_step(name: str) -> int:
    """40 for "checkpoints/step-40"."""
    return int(name.rsplit("-", 1)[-1])
