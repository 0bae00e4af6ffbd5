"""Valid inputs of every format gqn reads, written by the project's own writers: what the fuzzers mutate.

Each seed is small (a few 24-pixel views, the `tiny` model) so that thousands of mutated copies load
in minutes. `make_seeds(folder)` writes them all and returns {format: (path to load, target)}, where
the target says which loader takes it ("views": load_views, "model": load_model; both also `gqn info`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

VIEWS, SIZE = 4, 24

# format -> the loader that takes it
TARGETS = {
    "nerf-png": "views", "nerf-jpeg": "views", "colmap-text": "views", "colmap-binary": "views", "llff": "views",
    "dataset": "views", "tfrecord": "views", "photos": "views", "model": "model", "run": "model",
}


def scene():
    from gqn.scenes import render_views
    return render_views("shepard-metzler-7", 0, VIEWS, SIZE)


def _save_photos(views, folder: Path, ext: str) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"view_{i:02d}{ext}" for i in range(len(views))]
    for image, name in zip(views.images, names):
        Image.fromarray(image).save(folder / name)
    return names


def write_nerf(views, folder: Path, ext: str) -> Path:
    """transforms.json as `gqn poses` writes it (per-frame intrinsics, k1, an unregistered photo)."""
    from gqn import camera
    from gqn.data.poses import _transforms, _write_json
    names = _save_photos(views, folder / "images", ext)
    fx, fy, cx, cy = views.intrinsics[0]
    height, width = views.size
    frames = [{"name": name, "file_path": f"images/{name}", "transform_matrix": camera.opencv_to_opengl(c2w).tolist(),
               "fl_x": fx, "fl_y": fy, "cx": cx, "cy": cy, "w": width, "h": height, "k1": 0.01}
              for name, c2w in zip(names, views.c2w)]
    data = _transforms(frames, [{"name": "blurry.jpg", "reason": "not registered in the largest reconstruction"}])
    data["camera_angle_x"] = 0.8  # the NeRF-synthetic way, overridden by each frame's fl_x
    _write_json(folder / "transforms.json", data)
    return folder


def write_colmap(views, folder: Path, binary: bool) -> Path:
    from gqn import camera
    from gqn.data.readers import colmap
    names = _save_photos(views, folder / "images", ".jpg")
    height, width = views.size
    model = colmap.Model()
    model.cameras[1] = colmap.Camera(1, "OPENCV", width, height, np.array([*views.intrinsics[0], 0.01, 0.0, 0.0, 0.0]))
    qvec, tvec = camera.c2w_to_colmap(views.c2w)
    points = np.random.default_rng(0).uniform(-1, 1, (6, 3))
    for i, name in enumerate(names):
        uv, _ = camera.project(points, views.c2w[i], views.intrinsics[i])
        model.images[i + 1] = colmap.Image(i + 1, qvec[i], tvec[i], 1, name, uv, np.arange(len(uv)) + 1)
    for j, xyz in enumerate(points):
        track = np.array([[i + 1, j] for i in range(len(names))], np.int64)
        model.points[j + 1] = colmap.Point3D(j + 1, xyz, np.array([200, 100, 50], np.uint8), 0.5, track)
    colmap.write_model(model, folder / "sparse" / "0", binary)
    return folder


def write_llff(views, folder: Path) -> Path:
    from gqn import camera
    _save_photos(views, folder / "images", ".png")
    height, width = views.size
    hwf = np.tile([height, width, views.intrinsics[0, 0]], (len(views), 1))
    poses = camera.c2w_to_llff(views.c2w, hwf).reshape(len(views), 15)
    np.save(folder / "poses_bounds.npy", np.concatenate([poses, np.tile([0.5, 20.0], (len(views), 1))], 1))
    return folder


def write_dataset(views, folder: Path) -> Path:
    from gqn.data.dataset import DatasetWriter
    writer = DatasetWriter(folder, 2, len(views), SIZE, {"seed": "fuzz"})
    writer.write(np.stack([views.images] * 2), np.stack([views.c2w] * 2), np.stack([views.intrinsics] * 2))
    writer.finish({"format": "procedural", "kind": "shepard-metzler-7", "scenes": 2, "views": len(views),
                   "size": SIZE, "seed": 0})
    return folder


def write_tfrecord_file(views, folder: Path) -> Path:
    from gqn.data.tfrecord import write_tfrecord
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scenes.tfrecord"
    write_tfrecord(path, [views, views[::-1], views])
    return path


def write_photos(views, folder: Path) -> Path:
    _save_photos(views[:2], folder, ".jpg")
    _save_photos(views[2:], folder, ".png")  # view_00.png, view_01.png beside view_00.jpg, view_01.jpg
    return folder


def tiny_model():
    import torch
    from gqn import GQN, presets
    torch.manual_seed(0)
    config = dataclasses.replace(presets["tiny"], image_size=SIZE, trained_on={"kind": "shepard-metzler-7",
                                                                               "size": SIZE, "views": VIEWS})
    return GQN(config)


CARD = "# tiny\n\nTrained on: shepard-metzler-7, 24 px, 4 views.\n\n| contexts | PSNR |\n|---|---|\n| 3 | 12.5 dB |\n"


def write_model(folder: Path) -> Path:
    return tiny_model().save(folder, card=CARD)


def write_run(folder: Path) -> Path:
    import torch
    from gqn.checkpoint import save_checkpoint
    model = tiny_model()
    save_checkpoint(folder, 10, model, {"adam.step": torch.tensor([10.0])}, {"step": 10, "seed": 0})
    return folder


@dataclasses.dataclass
class Seed:
    folder: Path     # everything the case holds; it is copied and mutated
    path: Path       # what the loader is given (the folder, or a file in it)
    target: str      # "views" or "model"


def make_seeds(root: Path) -> dict[str, Seed]:
    """Write one valid seed per format under `root`."""
    root = Path(root)
    views = scene()
    paths = {
        "nerf-png": write_nerf(views, root / "nerf-png", ".png"),
        "nerf-jpeg": write_nerf(views, root / "nerf-jpeg", ".jpg"),
        "colmap-text": write_colmap(views, root / "colmap-text", binary=False),
        "colmap-binary": write_colmap(views, root / "colmap-binary", binary=True),
        "llff": write_llff(views, root / "llff"),
        "dataset": write_dataset(views, root / "dataset"),
        "tfrecord": write_tfrecord_file(views, root / "tfrecord"),
        "photos": write_photos(views, root / "photos"),
        "model": write_model(root / "model"),
        "run": write_run(root / "run"),
    }
    return {fmt: Seed(root / fmt, path, TARGETS[fmt]) for fmt, path in paths.items()}
