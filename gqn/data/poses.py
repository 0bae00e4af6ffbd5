"""`gqn poses FOLDER --out DIR`: camera poses for a folder of photos by structure from motion (pycolmap).

SIFT on upright copies of at most --max-size pixels, exhaustive matching (or sequential for video
frames), incremental mapping; the largest model is kept. DIR gets a transforms.json whose file paths
point at the original photos (load_views reads it, with the sparse points of DIR/sparse_pc.ply) and
the COLMAP model in DIR/sparse/0 beside DIR/images (a link to the photos), in a z-up world. Everything is built in DIR.partial and renamed at the end; a cancel (SIGINT/SIGTERM) or an
error removes it, so nothing that looks complete is left. The photo folder is only read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from PIL import Image

from gqn import camera
from gqn.data.images import ImageLoadError, list_images, load_image
from gqn.data.normalize import up_rotation
from gqn.data.readers import colmap
from gqn.data.readers.common import reasons, skip
from gqn.errors import GQNError
from gqn.progress import Progress, report

DEFAULT_MAX_SIZE = 640          # SIFT at this size registers as well as at full size, several times faster
_EXIF_ORIENTATION, _EXIF_MAKE, _EXIF_MODEL, _EXIF_IFD = 0x0112, 0x010F, 0x0110, 0x8769
_EXIF_FOCAL, _EXIF_FOCAL_35MM = 0x920A, 0xA405


POINTS_FILE = "sparse_pc.ply"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="folder of photos (jpg, png, ...); it is only read")
    parser.add_argument("--out", required=True, help="new folder for transforms.json and the COLMAP model")
    parser.add_argument("--sequential", action="store_true",
                        help="photos are ordered video frames: match each with its neighbours, not all pairs")
    parser.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE,
                        help=f"longest side for feature extraction, pixels (default {DEFAULT_MAX_SIZE})")
    parser.add_argument("--max-features", type=int, default=None,
                        help="SIFT features per photo (COLMAP's default 8192; at 480-640 px photos give ~2000). "
                             "1024 made exhaustive matching of 50 photos ~40%% faster on this machine")
    parser.add_argument("--json", action="store_true", help="JSON lines on stdout; the last one is the result")


def run(args: argparse.Namespace) -> int:
    result = estimate_poses(Path(args.folder), Path(args.out), sequential=args.sequential,
                            max_size=args.max_size, max_features=args.max_features, as_json=args.json)
    report(result, args.json)
    return 0


def estimate_poses(folder: Path, out: Path, sequential: bool = False, max_size: int = DEFAULT_MAX_SIZE,
                   max_features: int | None = None, as_json: bool = False) -> dict[str, Any]:
    """Run structure from motion on the photos in `folder`, write `out`; return a summary dict."""
    import pycolmap

    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise GQNError(f"{folder}: not a folder of photos")
    photos = list_images(folder)
    if len(photos) < 2:
        raise GQNError(f"{folder}: pose estimation needs at least 2 photos, found {len(photos)}")
    if out.exists():
        raise GQNError(f"{out}: already exists; choose a new --out folder")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # left by a run that was killed outright
    work = partial / "work"
    (work / "images").mkdir(parents=True)
    start, timings = time.monotonic(), {}
    token = pycolmap.CancellationToken()
    previous_sigterm = _raise_interrupt_on_sigterm()
    pycolmap.logging.minloglevel = 2  # COLMAP's own log lines would drown the progress
    try:
        copies, unregistered = _prepare(photos, work / "images", max_size, as_json, timings)
        if len(copies) < 2:
            raise GQNError(f"{folder}: fewer than 2 readable photos — {reasons(unregistered)}")
        extraction = pycolmap.FeatureExtractionOptions()
        extraction.max_image_size = max_size
        if max_features:
            extraction.sift.max_num_features = max_features
        reconstruction = _reconstruct(pycolmap, work, list(copies), sequential, extraction, token, as_json, timings)
        if reconstruction is None:
            unreadable = f"; unreadable: {reasons(unregistered)}" if unregistered else ""
            raise GQNError(f"{folder}: no reconstruction: no two of the {len(copies)} readable photos share enough "
                           f"matching features (photos need overlap and texture){unreadable}")
        model, frames = _export(reconstruction, copies, out, _up_rotation_of(reconstruction))
        registered = {f["name"] for f in frames}
        unregistered += [skip(source.name, "not registered in the largest reconstruction")
                         for source, _ in copies.values() if source.name not in registered]
        colmap.write_model(model, partial / "sparse" / "0", binary=True)
        write_point_cloud(model, partial / POINTS_FILE)
        _write_json(partial / "transforms.json", _transforms(frames, unregistered))
        # COLMAP's own layout (OUT/images beside OUT/sparse/0), so that the model opens by itself too.
        os.symlink(os.path.relpath(folder.resolve(), out.resolve().parent / out.name), partial / "images")
        shutil.rmtree(work)
        os.replace(partial, out)
    except BaseException:
        token.cancel()
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
    return {"event": "result", "out": str(out), "photos": len(photos), "registered": len(frames),
            "registered_fraction": len(frames) / len(photos), "points": len(model.points),
            "unregistered": unregistered, "seconds": round(time.monotonic() - start, 2), "stage_seconds": timings}


@contextmanager
def _stage(timings: dict[str, float], total: int, name: str, as_json: bool) -> Iterator[Progress]:
    """A progress bar (or JSON lines) for one stage, its duration kept in `timings`."""
    start = time.monotonic()
    with Progress(total, name, as_json) as progress:
        yield progress
    timings[name] = round(time.monotonic() - start, 2)


def _raise_interrupt_on_sigterm():
    """SIGTERM behaves like Ctrl-C (KeyboardInterrupt), so both cancel and clean up the same way."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def _cancellable(token, function: Callable, *args, **kwargs) -> Any:
    """Run a long pycolmap call in a thread so the main thread still takes signals; a signal cancels it.

    The thread waits for `go` before it enters pycolmap. A signal can land inside Thread.start(),
    before the thread can be joined; it then sees `cancelled` and never enters pycolmap, which
    otherwise ran on unjoined while the interpreter shut down, and the process aborted (SIGABRT).
    """
    outcome: dict[str, Any] = {}
    go = threading.Event()

    def target() -> None:
        go.wait()
        if outcome.get("cancelled"):
            return
        try:
            outcome["value"] = function(*args, cancellation_token=token, **kwargs)
        except BaseException as error:  # handed to the main thread below
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    try:
        thread.start()
        go.set()
        while thread.is_alive():
            thread.join(0.1)
    except BaseException:
        outcome["cancelled"] = True
        token.cancel()
        go.set()
        if thread.is_alive():
            thread.join()
        raise
    if "error" in outcome:
        if isinstance(outcome["error"], InterruptedError):
            raise KeyboardInterrupt from None
        raise outcome["error"]
    return outcome.get("value")


def _prepare(photos: list[Path], folder: Path, max_size: int, as_json: bool, timings: dict[str, float]
             ) -> tuple[dict[str, tuple[Path, tuple[int, int]]], list[dict[str, str]]]:
    """Upright, downscaled JPEG copies (EXIF kept, orientation applied) that SfM runs on.

    COLMAP ignores EXIF orientation; working on upright copies makes the poses match the photos as
    load_views shows them. Photos of one size from one camera body and focal length share one set of
    intrinsics (a subfolder each, read with CameraMode.PER_FOLDER): COLMAP's own grouping gives every
    photo without an EXIF focal length its own camera, which on 10 renders doubled the rotation error.
    Returns {copy name: (photo, its full upright (w, h))} and the unreadable photos.
    """
    copies, unreadable, groups = {}, [], {}
    with _stage(timings, len(photos), "prepare", as_json) as progress:
        for index, photo in enumerate(photos):
            try:
                pixels, full_size = load_image(photo, max_size)
                with Image.open(photo) as original:
                    exif = original.getexif()
                lens = exif.get_ifd(_EXIF_IFD)
                key = (full_size, exif.get(_EXIF_MAKE), exif.get(_EXIF_MODEL), str(lens.get(_EXIF_FOCAL)),
                       str(lens.get(_EXIF_FOCAL_35MM)))
                group = f"camera{groups.setdefault(key, len(groups))}"
                exif.pop(_EXIF_ORIENTATION, None)
                name = f"{group}/{index:05d}.jpg"
                (folder / group).mkdir(exist_ok=True)
                Image.fromarray(pixels).save(folder / name, quality=95, subsampling=0, exif=exif)
                copies[name] = (photo, full_size)
            except ImageLoadError as error:
                unreadable.append(skip(photo.name, str(error)))
            progress.update()
    return copies, unreadable


def _reconstruct(pycolmap, work: Path, names: list[str], sequential: bool, extraction, token, as_json: bool,
                 timings: dict[str, float]):
    database = work / "database.db"
    with _stage(timings, len(names), "extract", as_json) as progress:  # one call: a call per chunk splits the cameras
        _cancellable(token, pycolmap.extract_features, database, work / "images", image_names=names,
                     camera_mode=pycolmap.CameraMode.PER_FOLDER, extraction_options=extraction,
                     device=pycolmap.Device.cpu)
        progress.update(len(names))
    with _stage(timings, 1, "match", as_json) as progress:
        if sequential:
            _cancellable(token, pycolmap.match_sequential, database, device=pycolmap.Device.cpu)
        else:
            _cancellable(token, pycolmap.match_exhaustive, database, device=pycolmap.Device.cpu)
        progress.update()
    options = pycolmap.IncrementalPipelineOptions()
    options.min_model_size = 2          # a small folder is still a model
    options.random_seed = 0             # same photos, same poses
    with _stage(timings, len(names), "map", as_json) as progress:
        def registered_one() -> None:
            progress.update(int(progress.done < len(names)))  # retries of a failed start count no further

        models = _cancellable(token, pycolmap.incremental_mapping, database, work / "images", work / "sparse",
                              options, initial_image_pair_callback=lambda: progress.update(2),
                              next_image_callback=registered_one)
    return max(models.values(), key=lambda rec: rec.num_reg_images()) if models else None


def _up_rotation_of(reconstruction) -> np.ndarray:
    """The rotation that turns the reconstruction's world z-up (SfM leaves it arbitrary)."""
    c2w = np.array([np.linalg.inv(np.vstack([im.cam_from_world().matrix(), [0, 0, 0, 1]]))
                    for im in reconstruction.images.values() if im.has_pose])
    return up_rotation(c2w)


def _export(reconstruction, copies: dict[str, tuple[Path, tuple[int, int]]], out: Path, rotation: np.ndarray
            ) -> tuple[colmap.Model, list[dict[str, Any]]]:
    """The largest model, rotated z-up and rescaled to the original photos: as a COLMAP model and as
    transforms.json frames."""
    model, frames = colmap.Model(), []
    for image_id in sorted(reconstruction.reg_image_ids(), key=lambda i: copies[reconstruction.images[i].name][0]):
        image = reconstruction.images[image_id]
        photo, full_size = copies[image.name]
        source = reconstruction.cameras[image.camera_id]
        scale = np.array(full_size, np.float64) / [source.width, source.height]
        if image.camera_id not in model.cameras:  # photos of one camera share a size (see _prepare)
            f, cx, cy, k = source.params  # SIMPLE_RADIAL, COLMAP's default model
            model.cameras[image.camera_id] = colmap.Camera(image.camera_id, "SIMPLE_RADIAL", *full_size,
                                                           np.array([f * scale.mean(), cx * scale[0], cy * scale[1], k]))
        cam = model.cameras[image.camera_id]
        w2c = image.cam_from_world().matrix()
        w2c_rotation = w2c[:, :3] @ rotation.T   # world turned z-up: x' = rotation x
        points2d = image.points2D
        ids = np.array([p.point3D_id for p in points2d], np.uint64).astype(np.int64)  # invalid -> -1
        model.images[image_id] = colmap.Image(
            image_id, camera.rotmat_to_qvec(w2c_rotation), w2c[:, 3], image.camera_id, photo.name,
            np.array([p.xy for p in points2d], np.float64).reshape(-1, 2) * scale, ids)
        c2w = np.eye(4)
        c2w[:3, :3], c2w[:3, 3] = w2c_rotation.T, -w2c_rotation.T @ w2c[:, 3]
        frames.append({"name": photo.name, "file_path": os.path.relpath(photo.resolve(), out.resolve()),
                       "transform_matrix": camera.opencv_to_opengl(c2w).tolist(),
                       "fl_x": cam.params[0], "fl_y": cam.params[0], "cx": cam.params[1], "cy": cam.params[2],
                       "w": full_size[0], "h": full_size[1], "k1": cam.params[3]})
    for point_id, point in reconstruction.points3D.items():
        track = np.array([(e.image_id, e.point2D_idx) for e in point.track.elements], np.int64).reshape(-1, 2)
        model.points[point_id] = colmap.Point3D(point_id, rotation @ point.xyz, np.asarray(point.color, np.uint8),
                                                float(point.error), track)
    return model, frames


def write_point_cloud(model: colmap.Model, path: Path) -> None:
    """The sparse points as a coloured PLY (nerfstudio's `ply_file_path`), in the frames' world."""
    import trimesh
    xyz = np.array([p.xyz for p in model.points.values()], np.float64).reshape(-1, 3)
    rgb = np.array([p.rgb for p in model.points.values()], np.uint8).reshape(-1, 3)
    trimesh.PointCloud(xyz, colors=rgb).export(path, file_type="ply")


def _transforms(frames: list[dict[str, Any]], unregistered: list[dict[str, str]]) -> dict[str, Any]:
    return {"generator": "gqn poses (pycolmap incremental SfM)", "camera_model": "SIMPLE_RADIAL",
            "ply_file_path": POINTS_FILE, "frames": [{k: v for k, v in f.items() if k != "name"} for f in frames], "unregistered": unregistered}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2))
