"""On-disk datasets of many scenes: memory-mapped arrays + meta.json, written atomically, resumable.

Layout of a dataset folder:
    images.npy       uint8   [N,V,H,W,3]
    c2w.npy          float64 [N,V,4,4]  OpenCV camera-to-world, world z-up (gqn.camera)
    intrinsics.npy   float64 [N,V,4]    (fx, fy, cx, cy) in pixels
    meta.json        {"format", "kind", "scenes", "views", "size", "seed", "complete": true, ...}
    depth_range.npy  float64 [N,2]      optional: each scene's (near, far) depth over all its views
    points.npy       float32 [N,M,3]    optional: each scene's sparse structure-from-motion points, NaN rows
                                        where a scene has fewer than M (meta "points": M)

Arrays open with mmap_mode="r", so a dataset far larger than memory costs nothing to open. A
writer fills OUT.partial/ chunk by chunk, records after each chunk how many scenes are done
(progress.json), and renames the folder to OUT only when everything is there: a killed run
leaves OUT.partial, and running the same command again continues it.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from gqn import camera
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.files import npy_header, read_json_object
from gqn.progress import Progress

ARRAYS = {"images": np.uint8, "c2w": np.float64, "intrinsics": np.float64}
# Optional arrays, written by renderers that know them (the photo world): name -> (dtype, shape after the scene axis).
DEPTH_RANGE, POINTS = "depth_range", "points"
MAX_POINTS = 1_000_000
PROGRESS_FILE = "progress.json"
VALIDATE_CHUNK = 4096  # scenes per block when checking cameras, so memory stays bounded


def extra_shapes(meta: dict[str, Any]) -> dict[str, tuple[Any, tuple[int, ...]]]:
    return {DEPTH_RANGE: (np.float64, (2,)), POINTS: (np.float32, (int(meta.get(POINTS) or 0), 3))}


def scene_seed(seed: int, index: int) -> int:
    """The seed of scene `index` in a procedural dataset generated with `seed`."""
    return int(seed) * 1_000_003 + int(index)


def array_shapes(scenes: int, views: int, height: int, width: int) -> dict[str, tuple[int, ...]]:
    return {"images": (scenes, views, height, width, 3), "c2w": (scenes, views, 4, 4), "intrinsics": (scenes, views, 4)}


def is_dataset(path: str | os.PathLike) -> bool:
    """Whether `path` looks like a dataset folder (meta.json and images.npy), valid or not."""
    path = Path(path)
    return (path / "meta.json").is_file() and (path / "images.npy").is_file()


# --- reading ---------------------------------------------------------------------------------------------

class SceneDataset:
    """A dataset folder, memory-mapped and checked on open (shapes, truncation, NaN or singular cameras)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise GQNError(f"{self.path}: no such dataset folder")
        self.meta = _read_meta(self.path / "meta.json")
        size = self.meta["size"]
        shapes = array_shapes(self.meta["scenes"], self.meta["views"], size, size)
        arrays = {name: _open_array(self.path / f"{name}.npy", shapes[name], ARRAYS[name]) for name in ARRAYS}
        self.images, self.c2w, self.intrinsics = arrays["images"], arrays["c2w"], arrays["intrinsics"]
        extras = {name: _open_array(self.path / f"{name}.npy", (self.meta["scenes"], *tail), dtype)
                  for name, (dtype, tail) in extra_shapes(self.meta).items() if (self.path / f"{name}.npy").exists()}
        self.depth_range, self.points = extras.get(DEPTH_RANGE), extras.get(POINTS)
        self._check_cameras()

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return f"SceneDataset({str(self.path)!r}, kind={self.meta.get('kind')!r}, scenes={len(self)})"

    def scene(self, index: int) -> ViewSet:
        """Scene `index` as a ViewSet (read into memory); a procedural one carries kind and seed in meta."""
        if not -len(self) <= index < len(self):
            raise GQNError(f"{self.path}: has scenes 0..{len(self) - 1}, not scene {index}")
        index = int(index) % len(self)
        meta = {"format": self.meta.get("format", "dataset"), "kind": self.meta.get("kind"),
                "size": self.meta["size"], "dataset": str(self.path), "scene": index}
        if meta["format"] == "procedural" and self.meta.get("seed") is not None:
            meta["seed"] = scene_seed(self.meta["seed"], index)
        return ViewSet(np.array(self.images[index]), np.array(self.c2w[index]), np.array(self.intrinsics[index]),
                       source=str(self.path), meta=meta)

    def _check_cameras(self) -> None:
        c2w_file, intrinsics_file = self.path / "c2w.npy", self.path / "intrinsics.npy"
        for start in range(0, len(self), VALIDATE_CHUNK):
            c2w = np.asarray(self.c2w[start:start + VALIDATE_CHUNK])
            bad = ~camera.valid_poses(c2w)
            if bad.any():
                scene, view = np.argwhere(bad)[0]
                what = ("has NaN or infinite values" if not np.isfinite(c2w[scene, view]).all()
                        else "is not a rigid camera pose (singular, scaled or bad last row)")
                raise GQNError(f"{c2w_file}: scene {start + scene} view {view}: camera {what}")
            intrinsics = np.asarray(self.intrinsics[start:start + VALIDATE_CHUNK])
            bad = ~camera.valid_intrinsics(intrinsics)
            if bad.any():
                scene, view = np.argwhere(bad)[0]
                raise GQNError(f"{intrinsics_file}: scene {start + scene} view {view}: intrinsics "
                               f"{intrinsics[scene, view].tolist()} are not finite with positive focal lengths")
            if self.depth_range is not None:
                ranges = np.asarray(self.depth_range[start:start + VALIDATE_CHUNK])
                bad = ~(np.isfinite(ranges).all(1) & (ranges[:, 0] > 0) & (ranges[:, 0] < ranges[:, 1]))
                if bad.any():
                    raise GQNError(f"{self.path / DEPTH_RANGE}.npy: scene {start + int(np.argmax(bad))}: depth range "
                                   f"{ranges[np.argmax(bad)].tolist()} is not 0 < near < far")


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise GQNError(f"{path}: missing; not a dataset folder "
                       "(expected meta.json, images.npy, c2w.npy and intrinsics.npy)")
    meta = read_json_object(path)
    for key in ("scenes", "views", "size"):
        if not _is_int(meta.get(key)) or meta[key] < 1:
            raise GQNError(f"{path}: '{key}' must be a positive integer, got {meta.get(key)!r:.40}")
    for key, valid in (("seed", _is_int), ("format", _is_str), ("kind", _is_str), (POINTS, _is_int)):
        if meta.get(key) is not None and not valid(meta[key]):
            expected = "an integer" if valid is _is_int else "a name"
            raise GQNError(f"{path}: '{key}' is {meta[key]!r:.40}, not {expected}")
    if not 0 <= meta.get(POINTS, 0) <= MAX_POINTS:
        raise GQNError(f"{path}: '{POINTS}' must be 0 to {MAX_POINTS} points per scene, got {meta[POINTS]}")
    if meta.get("complete") is not True:
        raise GQNError(f"{path}: the dataset is marked incomplete (an interrupted write?)")
    return meta


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _open_array(path: Path, shape: tuple[int, ...], dtype) -> np.memmap:
    """np.load(mmap_mode='r') after checking the header against the expected shape and the file's length."""
    if not path.is_file():
        raise GQNError(f"{path}: missing")
    found_shape, fortran, found_dtype, offset = npy_header(path)
    if found_dtype != np.dtype(dtype) or fortran:
        order = " in Fortran order" if fortran else ""
        raise GQNError(f"{path}: holds {found_dtype}{order}, expected {np.dtype(dtype)} in C order")
    if tuple(found_shape) != shape:
        raise GQNError(f"{path}: has shape {list(found_shape)}, expected {list(shape)} (from meta.json)")
    per_scene = math.prod(shape[1:]) * np.dtype(dtype).itemsize
    complete = (path.stat().st_size - offset) // per_scene if per_scene else shape[0]
    if complete < shape[0]:
        raise GQNError(f"{path}: truncated: holds {complete} of {shape[0]} scenes (scene {complete} is cut off)")
    return np.load(path, mmap_mode="r")


# --- writing ---------------------------------------------------------------------------------------------

class DatasetWriter:
    """Fills OUT.partial/ with memory-mapped arrays and renames it to OUT when finished.

    `args` identifies the run: if OUT.partial holds an unfinished run with the same args, writing
    continues after its last finished chunk (`done` scenes); with other args it is an error.
    """

    def __init__(self, out: str | os.PathLike, scenes: int, views: int, size: int, args: dict[str, Any],
                 extras: tuple[str, ...] = ()) -> None:
        self.out = Path(out)
        self.partial = self.out.with_name(self.out.name + ".partial")
        self.scenes = scenes
        self.args = args
        if self.out.exists():
            raise GQNError(f"{self.out}: already exists; choose another --out or delete it")
        progress_file = self.partial / PROGRESS_FILE
        previous = json.loads(progress_file.read_text()) if progress_file.is_file() else None
        if previous is not None and previous.get("args") != args:
            raise GQNError(f"{self.partial}: holds an unfinished run with other arguments {previous.get('args')}; "
                           "run that command again to finish it, or delete the folder")
        self.done = int(previous["done"]) if previous else 0
        shapes = array_shapes(scenes, views, size, size)
        kinds = dict(ARRAYS)
        for name in extras:   # `args` holds what sizes them ("points")
            kinds[name], tail = extra_shapes(args)[name]
            shapes[name] = (scenes, *tail)
        if self.done:
            self.arrays = {name: np.lib.format.open_memmap(self.partial / f"{name}.npy", mode="r+")
                           for name in kinds}
        else:
            self.partial.mkdir(parents=True, exist_ok=True)
            self.arrays = {name: np.lib.format.open_memmap(self.partial / f"{name}.npy", mode="w+",
                                                           dtype=kinds[name], shape=shapes[name])
                           for name in kinds}
            self._save_progress()

    def write(self, images: np.ndarray, c2w: np.ndarray, intrinsics: np.ndarray, **extras: np.ndarray) -> None:
        """Append a chunk of scenes (and the extras the writer was made with), flush it to disk, then
        record it as done."""
        end = self.done + len(images)
        values = {"images": images, "c2w": c2w, "intrinsics": intrinsics, **extras}
        for name in self.arrays:
            self.arrays[name][self.done:end] = values[name]
            self.arrays[name].flush()
        self.done = end
        self._save_progress()

    def finish(self, meta: dict[str, Any]) -> Path:
        if self.done != self.scenes:
            raise GQNError(f"{self.partial}: only {self.done} of {self.scenes} scenes were written")
        for array in self.arrays.values():
            array.flush()
        self.arrays.clear()
        _write_json(self.partial / "meta.json", {**meta, "complete": True})
        (self.partial / PROGRESS_FILE).unlink()
        os.replace(self.partial, self.out)
        return self.out

    def _save_progress(self) -> None:
        _write_json(self.partial / PROGRESS_FILE, {"args": self.args, "done": self.done})


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    """Write-then-rename, so a kill never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def write_dataset(out: str | os.PathLike, kind: str, scenes: int, views: int, size: int, seed: int = 0,
                  as_json: bool = False, chunk: int | None = None) -> dict[str, Any]:
    """Generate `scenes` procedural scenes of `kind` with `views` views each into `out`; returns a summary.

    Scenes are made in chunks rendered by one parallel call (numba prange over all the chunk's
    views keeps every core busy). Scene i is make_scene(kind, scene_seed(seed, i)).
    """
    from gqn.scenes import KINDS, render_scenes
    from gqn.scenes.kinds import scene_and_cameras

    if kind not in KINDS:
        raise GQNError(f"unknown scene kind {kind!r}; choose one of {', '.join(KINDS)}")
    if scenes < 1 or views < 1 or not 8 <= size <= 1024:
        raise GQNError(f"need scenes >= 1, views >= 1 and 8 <= size <= 1024; got {scenes}, {views}, {size}")
    chunk = chunk or max(1, min(256, 4096 // views))
    args = {"kind": kind, "scenes": scenes, "views": views, "size": size, "seed": seed}
    writer = DatasetWriter(out, scenes, views, size, args)
    resumed_from, start_time = writer.done, time.perf_counter()
    with Progress(scenes, f"{kind} scenes", as_json, initial=writer.done) as progress:
        while writer.done < scenes:
            made = [scene_and_cameras(kind, scene_seed(seed, i), views, size)
                    for i in range(writer.done, min(scenes, writer.done + chunk))]
            c2w = np.stack([m[1] for m in made])
            intrinsics = np.stack([m[2] for m in made])
            writer.write(render_scenes([m[0] for m in made], c2w, intrinsics, size), c2w, intrinsics)
            progress.update(len(made))
    seconds = time.perf_counter() - start_time
    writer.finish({"format": "procedural", **args, "seeds": "scene i: seed * 1000003 + i", "created_by": "gqn scenes"})
    made = scenes - resumed_from
    return {"out": str(writer.out), **args, "resumed_from": resumed_from, "seconds": round(seconds, 3),
            "views_per_s": round(made * views / seconds, 1) if seconds > 0 else None}

