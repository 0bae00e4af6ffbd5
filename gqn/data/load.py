"""`load_views(path)`: whatever posed images a path holds, as one ViewSet."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gqn import camera
from gqn.data.dataset import is_dataset
from gqn.data.images import DEFAULT_MAX_SIZE, is_image_file
from gqn.data.readers.common import pose_problem, skip
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError

COLMAP_FILES = ("cameras.bin", "cameras.txt", "images.bin", "images.txt", "points3D.bin", "points3D.txt")
COLMAP_PLACES = (".", "sparse/0", "sparse")
NERF_FILES = ("transforms.json", "transforms_train.json")
MODEL_FILES = ("model.safetensors", "config.json")
MULTI_SCENE = ("dataset", "gqn-datasets")


def _is_tfrecord(path: Path) -> bool:
    return path.is_file() and ".tfrecord" in path.name


def detect_format(path: Path) -> tuple[str, Path]:
    """(format, the file or folder its reader takes): nerf, colmap, llff, dataset, gqn-datasets or photos
    for scenes; model or run for a model folder or training run (load_model reads those)."""
    path = Path(path)
    if not path.exists():
        raise GQNError(f"{path}: no such file or folder")
    if path.name in MODEL_FILES and (path.parent / MODEL_FILES[0]).is_file():
        path = path.parent
    if not path.is_file() and not path.is_dir():
        raise GQNError(f"{path}: neither a file nor a folder (a pipe or a device?)")
    if path.is_dir() and ((path / "latest").exists() or (path / MODEL_FILES[0]).is_file()):
        return ("run" if (path / "latest").exists() else "model"), path
    if path.is_file():
        if path.name == "meta.json" and is_dataset(path.parent):
            return "dataset", path.parent
        if path.suffix.lower() == ".json":
            return "nerf", path
        if path.name == "poses_bounds.npy":
            return "llff", path.parent
        if path.name in COLMAP_FILES:
            return "colmap", path.parent
        if _is_tfrecord(path):
            return "gqn-datasets", path
        if is_image_file(path):
            raise GQNError(f"{path}: a single photo has no pose; put the photos in a folder and run "
                           f"`gqn poses FOLDER --out DIR`")
        raise GQNError(f"{path}: not a format gqn reads (transforms.json, COLMAP cameras/images, "
                       "poses_bounds.npy, dataset meta.json, .tfrecord)")
    for name in NERF_FILES:
        if (path / name).is_file():
            return "nerf", path / name
    if is_dataset(path):
        return "dataset", path
    if (path / "poses_bounds.npy").is_file():
        return "llff", path
    for place in COLMAP_PLACES:
        if any((path / place / name).is_file() for name in ("cameras.bin", "cameras.txt")):
            return "colmap", path / place if place != "." else path
    return "photos", path


def load_views(path: str | Path, scene: int | None = None, max_size: int | None = DEFAULT_MAX_SIZE) -> ViewSet:
    """Any supported source as a ViewSet in the project's one convention; `scene` picks one scene of a
    multi-scene dataset or TFRecord; photos are downscaled to at most `max_size` pixels while loading.

    Raises NoPosesError (a GQNError) for a folder of photos without poses, GQNError for anything unusable.
    """
    fmt, target = detect_format(Path(path))
    if scene not in (None, 0) and fmt not in MULTI_SCENE:
        raise GQNError(f"{path}: a {fmt} source holds one scene; there is no scene {scene}")
    if fmt == "nerf":
        from gqn.data.readers.nerf import read_nerf
        views = with_points_beside(read_nerf(target, max_size), target.parent)
    elif fmt == "colmap":
        from gqn.data.readers.colmap import read_colmap
        views = read_colmap(target, max_size)
    elif fmt == "llff":
        from gqn.data.readers.llff import read_llff
        views = read_llff(target, max_size)
    elif fmt == "dataset":
        views = _dataset_scene(target, scene or 0)
    elif fmt == "gqn-datasets":
        views = _tfrecord_scene(target, scene or 0)
    elif fmt == "photos":
        from gqn.data.readers.folder import read_folder
        read_folder(target)  # always raises: photos need poses first
    else:
        raise GQNError(f"{target}: a {'training run' if fmt == 'run' else 'model folder'}, not a scene; "
                       "open it as a model (load_model, --model)")
    views.meta.setdefault("format", fmt)
    return drop_invalid_poses(views, target)


def with_points_beside(views: ViewSet, folder: Path) -> ViewSet:
    """Sparse points for a transforms.json from the COLMAP model beside it (`gqn poses` writes one in
    sparse/0), when that model's cameras are the same cameras in the same frame: a transforms.json
    made by other tools (nerfstudio's, for one) may sit in another frame than its COLMAP model."""
    from gqn.data.readers.colmap import model_files, read_model

    place = next((folder / p for p in COLMAP_PLACES[1:] if model_files(folder / p) is not None), None)
    if views.points is not None or place is None:
        return views
    try:
        model = read_model(place)
    except GQNError:
        return views
    centres = {Path(im.name).name: camera.colmap_to_c2w(im.qvec, im.tvec)[:3, 3] for im in model.images.values()}
    shared = [i for i, name in enumerate(views.names) if Path(name).name in centres]
    if not model.points or len(shared) < 2:
        return views
    ours = views.positions[shared]
    theirs = np.array([centres[Path(views.names[i]).name] for i in shared])
    extent = np.linalg.norm(ours - ours.mean(0), axis=-1).max()
    if not np.abs(ours - theirs).max() <= 1e-4 * extent:
        return views
    views.points = np.array([p.xyz for p in model.points.values()], np.float32).reshape(-1, 3)
    views.point_colors = np.array([p.rgb for p in model.points.values()], np.uint8).reshape(-1, 3)
    views.meta["points_from"] = str(place)
    return views


def _dataset_scene(folder: Path, scene: int) -> ViewSet:
    from gqn.data.dataset import SceneDataset
    dataset = SceneDataset(folder)
    if not 0 <= scene < len(dataset):
        raise GQNError(f"{folder}: scene {scene} does not exist (the dataset has {len(dataset)} scenes)")
    return dataset.scene(scene)


def _tfrecord_scene(path: Path, scene: int) -> ViewSet:
    """Record `scene` of a gqn-datasets file; only that record's JPEGs are decoded."""
    from gqn.data.tfrecord import example_to_views, parse_example, read_records
    count = 0
    for index, data, problem in read_records(path):
        count = index + 1
        if index == scene:
            try:
                if problem is None:
                    return example_to_views(parse_example(data), name=f"{path.name}#{index}/")
            except (ValueError, UnicodeDecodeError) as error:
                problem = str(error)
            raise GQNError(f"{path}: record {index}: {problem}")
    raise GQNError(f"{path}: scene {scene} does not exist (the file has {count} records)")


def drop_invalid_poses(views: ViewSet, source: Path) -> ViewSet:
    """Views with NaN or non-rigid poses move to `skipped`; none left is an error."""
    valid = camera.valid_poses(views.c2w)
    if valid.all():
        return views
    if not valid.any():
        raise GQNError(f"{source}: every one of its {len(views)} poses is NaN or not a rigid transform")
    kept = views[valid]
    kept.skipped += [skip(views.names[i], pose_problem(views.c2w[i])) for i in np.flatnonzero(~valid)]
    return kept
