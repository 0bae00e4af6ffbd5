"""The models that ship with the project, and which of them suits a scene.

`resources/models/default` knows the procedural worlds it was trained on (Shepard-Metzler);
`resources/models/photo` renders real captures (trained on photo-world captures, any camera).
The app and every command that takes `--model` choose between them by the scene when no model
is named.
"""

from __future__ import annotations

from pathlib import Path

from gqn.data.viewset import PROCEDURAL_FORMATS, ViewSet

MODELS = Path(__file__).resolve().parent.parent / "resources" / "models"
DEFAULT_MODEL = MODELS / "default"
PHOTO_MODEL = MODELS / "photo"
MODEL_HELP = ("model folder, or a training run (its latest checkpoint); default: the shipped model that suits "
              "the scene (photo captures: resources/models/photo)")


def is_photo_capture(views: ViewSet) -> bool:
    """Photos of the real world (or of the photo world): anything but the procedural scene kinds the
    default model was trained on."""
    return views.meta.get("format") not in PROCEDURAL_FORMATS or views.meta.get("kind") == "photo-world"


def shipped_model_for(views: ViewSet | None) -> Path:
    """The photo model for photo captures (when it ships), else the procedural default."""
    if views is not None and is_photo_capture(views) and (PHOTO_MODEL / "model.safetensors").is_file():
        return PHOTO_MODEL
    return DEFAULT_MODEL


def model_path(given: str | None, views: ViewSet | None) -> str:
    """--model as given, or the shipped model that suits `views`."""
    return str(given) if given else str(shipped_model_for(views))
