"""What a path given to the app holds (scene, model, unposed photos) and the shipped defaults. No Qt."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.shipped import DEFAULT_MODEL

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEMO_SCENES = RESOURCES / "scenes"
FALLBACK_KIND = "shepard-metzler-7"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass
class Opened:
    """The result of opening paths: a scene, a model, and/or photos that still need poses."""

    views: ViewSet | None = None
    model: Any = None
    model_path: str | None = None
    unposed: list[Path] = field(default_factory=list)  # a photo folder, or several image files


def is_model_folder(path: Path) -> bool:
    """A model folder (model.safetensors) or a training run (its `latest` checkpoint)."""
    return path.is_dir() and ((path / "model.safetensors").is_file() or (path / "latest").is_file())


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def open_paths(paths: list[str | Path]) -> Opened:
    """Load what `paths` hold. Raises GQNError (naming the path) and loads nothing when one is bad."""
    from gqn import load_model, load_views
    from gqn.data.readers.folder import NoPosesError

    paths = [Path(p) for p in paths]
    if not paths:
        raise GQNError("nothing to open")
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise GQNError(f"{missing[0]}: no such file or folder")
    opened = Opened()
    images = [p for p in paths if is_image(p)]
    if images and len(images) < len(paths):
        raise GQNError(f"{images[0]}: drop either photos or one scene/model, not both")
    if images:
        opened.unposed = images
        return opened
    for path in paths:
        if is_model_folder(path):
            opened.model, opened.model_path = load_model(path), str(path)
        elif opened.views is not None or opened.unposed:
            raise GQNError(f"{path}: open one scene at a time")
        else:
            try:
                opened.views = load_views(path)
            except NoPosesError:
                opened.unposed = [path]
    return opened


def pose_input_folder(unposed: list[Path]) -> Path:
    """A folder holding exactly the photos to estimate poses for (links in a temp folder for files)."""
    if len(unposed) == 1 and unposed[0].is_dir():
        return unposed[0]
    folder = Path(tempfile.mkdtemp(prefix="gqn-photos-"))
    for image in unposed:
        os.symlink(image.resolve(), folder / image.name)
    return folder


def demo_scene_paths() -> list[Path]:
    if not DEMO_SCENES.is_dir():
        return []
    return sorted(p for p in DEMO_SCENES.iterdir() if not p.name.startswith((".", "_"))
                  and (p.is_dir() or p.suffix in (".json", ".tfrecord")))


def procedural_scene(kind: str = FALLBACK_KIND, seed: int = 0, views: int = 15, size: int = 64) -> ViewSet:
    """A procedural scene rendered now: what the app shows when no demo scene ships."""
    from gqn.scenes import KINDS, render_views
    if kind not in KINDS:
        kind = next((k for k in KINDS if k.startswith("shepard")), KINDS[0])
    return render_views(kind, seed, views, size)


def default_model(path: str | Path | None = None) -> tuple[Any, str | None, str | None]:
    """(model, its path, None) or (None, None, why there is none) for `path` or the shipped model;
    never raises."""
    if path is None and not is_model_folder(DEFAULT_MODEL):
        return None, None, (f"No model loaded: {DEFAULT_MODEL} holds no trained model yet. "
                            "Open a model folder to see what a GQN imagines.")
    path = Path(path or DEFAULT_MODEL)
    try:
        from gqn import load_model
        return load_model(path), str(path), None
    except GQNError as error:
        return None, None, f"No model loaded: {error}"


def demo_views(model: Any = None) -> tuple[ViewSet, str | None]:
    """The first shipped demo scene (one of the kind the model was trained on first), or a procedural
    one of that kind. Returns (views, a note when the fallback was used)."""
    note = None
    trained = getattr(getattr(model, "config", None), "trained_on", {}) or {}
    for path in sorted(demo_scene_paths(), key=lambda path: path.name != trained.get("kind")):
        try:
            from gqn import load_views
            return load_views(path), None
        except GQNError as error:
            note = f"Demo scene {path.name} could not be read ({error}); showing a procedural scene instead."
    return procedural_scene(trained.get("kind", FALLBACK_KIND), seed=0, views=int(trained.get("views", 15)),
                            size=int(trained.get("size", 64))), note
