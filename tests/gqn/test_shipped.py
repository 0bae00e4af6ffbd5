"""Which shipped model suits a scene, for the app and every command that takes --model."""

import numpy as np

import gqn.shipped
from gqn import ViewSet, camera
from gqn.shipped import is_photo_capture, model_path, shipped_model_for


def views(meta):
    c2w = camera.look_at(np.array([[3.0, 0, 1], [0, 3.0, 1]]))
    return ViewSet(np.zeros((2, 8, 8, 3), np.uint8), c2w, meta=meta)


def test_photo_captures_get_the_photo_model_procedural_scenes_the_default(tmp_path, monkeypatch):
    photo = tmp_path / "photo"
    monkeypatch.setattr(gqn.shipped, "PHOTO_MODEL", photo)
    colmap, sm7 = views({"format": "colmap"}), views({"format": "procedural", "kind": "shepard-metzler-7"})
    photo_world = views({"format": "procedural", "kind": "photo-world"})
    assert [is_photo_capture(v) for v in (colmap, sm7, photo_world)] == [True, False, True]
    assert shipped_model_for(colmap) == gqn.shipped.DEFAULT_MODEL     # no photo model shipped here (yet)
    photo.mkdir()
    (photo / "model.safetensors").write_bytes(b"")
    assert shipped_model_for(colmap) == shipped_model_for(photo_world) == photo
    assert shipped_model_for(sm7) == shipped_model_for(None) == gqn.shipped.DEFAULT_MODEL
    assert model_path("mine", colmap) == "mine" and model_path(None, colmap) == str(photo)


def test_the_shipped_photo_model_is_there_and_says_what_it_expects():
    from gqn.checkpoint import read_model_folder
    config, _ = read_model_folder(gqn.shipped.PHOTO_MODEL)
    assert "photo" in config.trained_on["kind"] and config.representation == "sweep"
    assert config.image_size >= 128 and config.contexts >= 2
