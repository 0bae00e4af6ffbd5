"""A plain folder of photos: pictures without cameras. Loading it says that poses must be estimated first."""

from __future__ import annotations

from pathlib import Path

from gqn.data.images import list_images
from gqn.errors import GQNError


class NoPosesError(GQNError):
    """Photos with no camera poses; `images` lists them so that the caller can offer `gqn poses`."""

    def __init__(self, folder: Path, images: list[Path]) -> None:
        self.folder, self.images = Path(folder), list(images)
        super().__init__(f"{folder}: {len(images)} photos but no camera poses; estimate them first with "
                         f"`gqn poses {folder} --out DIR` and open DIR")


def read_folder(folder: Path) -> None:
    """Always raises: NoPosesError for a folder of photos, GQNError for one without any."""
    images = list_images(folder)
    if not images:
        raise GQNError(f"{folder}: no photos here (looked for .jpg .jpeg .png .bmp .tif .tiff .webp) and no "
                       "transforms.json, COLMAP model, poses_bounds.npy or dataset")
    raise NoPosesError(folder, images)
