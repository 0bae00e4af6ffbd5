"""Rendered photos with known cameras, written in every posed-image format the readers take."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gqn import camera
from gqn.data.photo_scene import render_photos
from gqn.data.readers import colmap


class PhotoSets:
    """One set of rendered views (and sparse points), written as transforms.json, COLMAP and LLFF."""

    def __init__(self, images: np.ndarray, c2w: np.ndarray, intrinsics: np.ndarray) -> None:
        self.images, self.c2w, self.intrinsics = images, c2w, intrinsics
        self.names = [f"view_{i:02d}.jpg" for i in range(len(images))]
        self.height, self.width = images.shape[1:3]
        rng = np.random.default_rng(0)
        self.points = rng.uniform(-2, 2, (30, 3))
        self.point_colors = rng.integers(0, 256, (30, 3), dtype=np.uint8)

    def photos(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / name for name in self.names]
        for image, path in zip(self.images, paths):
            Image.fromarray(image).save(path, quality=95, subsampling=0)
        return paths

    def nerf(self, root: Path, frames: list[dict] | None = None, **top) -> Path:
        """root/images/*.jpg + root/transforms.json (fl_x... by default); returns the json."""
        self.photos(root / "images")
        fx, fy, cx, cy = self.intrinsics
        if frames is None:
            frames = [{"file_path": f"images/{name}", "transform_matrix": camera.opencv_to_opengl(pose).tolist()}
                      for name, pose in zip(self.names, self.c2w)]
        data = {"fl_x": fx, "fl_y": fy, "cx": cx, "cy": cy, "w": self.width, "h": self.height, **top, "frames": frames}
        data = {k: v for k, v in data.items() if v is not None}
        (root / "transforms.json").write_text(json.dumps(data))
        return root / "transforms.json"

    def colmap_model(self, model_name: str = "PINHOLE") -> colmap.Model:
        fx, fy, cx, cy = self.intrinsics
        params = {"SIMPLE_PINHOLE": [fx, cx, cy], "PINHOLE": [fx, fy, cx, cy], "SIMPLE_RADIAL": [fx, cx, cy, 0.01],
                  "RADIAL": [fx, cx, cy, 0.01, -0.002], "OPENCV": [fx, fy, cx, cy, 0.01, -0.002, 1e-4, 2e-4],
                  "OPENCV_FISHEYE": [fx, fy, cx, cy, 0.1, 0.0, 0.0, 0.0]}[model_name]
        model = colmap.Model()
        model.cameras[1] = colmap.Camera(1, model_name, self.width, self.height, np.array(params, np.float64))
        qvec, tvec = camera.c2w_to_colmap(self.c2w)
        for i, name in enumerate(self.names):
            uv, _ = camera.project(self.points, self.c2w[i], self.intrinsics)
            model.images[i + 1] = colmap.Image(i + 1, qvec[i], tvec[i], 1, name, uv, np.arange(len(uv)) + 1)
        for j, (xyz, rgb) in enumerate(zip(self.points, self.point_colors)):
            track = np.array([[i + 1, j] for i in range(len(self.names))], np.int64)
            model.points[j + 1] = colmap.Point3D(j + 1, xyz, rgb, 0.5, track)
        return model

    def colmap(self, root: Path, binary: bool, model_name: str = "PINHOLE") -> Path:
        """root/images/*.jpg + root/sparse/0/{cameras,images,points3D}.{bin,txt}; returns sparse/0."""
        self.photos(root / "images")
        colmap.write_model(self.colmap_model(model_name), root / "sparse" / "0", binary)
        return root / "sparse" / "0"

    def llff(self, root: Path) -> Path:
        self.photos(root / "images")
        hwf = np.tile([self.height, self.width, self.intrinsics[0]], (len(self.c2w), 1))
        poses = camera.c2w_to_llff(self.c2w, hwf).reshape(len(self.c2w), 15)
        np.save(root / "poses_bounds.npy", np.concatenate([poses, np.tile([0.5, 20.0], (len(poses), 1))], 1))
        return root


@pytest.fixture(scope="session")
def renders():
    return render_photos(5, 160, 120, seed=3)


@pytest.fixture
def sets(renders):
    return PhotoSets(*renders)


@pytest.fixture
def photo_sets():
    """PhotoSets itself, for tests that render views of their own."""
    return PhotoSets
