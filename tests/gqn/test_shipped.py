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


def test_the_shipped_photo_model_beats_plane_sweep_on_a_capture_it_never_saw():
    """A wide 50-photo orbit of a floor scene (a seed far from the training captures'): plane sweep
    smears where no plane fits; the photo model must not (measured 23.3 vs 17.7 dB at 256 px)."""
    from gqn import load_model
    from gqn.evaluate_capture import evaluate_capture
    from gqn.scenes import photo_world
    views = photo_world.render_capture(990003, 50, 128, layout="orbit", aspect="wide", setting="floor").views
    result, _ = evaluate_capture(load_model(gqn.shipped.PHOTO_MODEL), views, every=10, start=2)
    assert result["psnr_mean"] > result["baseline_ibr_psnr"] + 2.0
    assert result["psnr_mean"] > result["baseline_nearest_psnr"] + 3.0
