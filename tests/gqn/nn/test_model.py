import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from gqn import GQN, GQNError, ViewSet, camera, load_model
from gqn.config import preset
from gqn.nn.generator import gaussian_kl
from gqn.nn.representation import viewpoint


def random_views(n: int, size: int, seed: int = 0) -> ViewSet:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return ViewSet(images, camera.look_at(rng.normal(size=(n, 3)) * 3))


def batch(config, b=3, k=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = config.image_size
    c2w = torch.as_tensor(camera.look_at(np.random.default_rng(seed).normal(size=(b, k + 1, 3)) * 3), dtype=torch.float32)
    intr = torch.tensor([1.2, 1.2, 0.5, 0.5]).expand(b, k + 1, 4)
    images = torch.rand(b, k + 1, 3, s, s, generator=g)
    return images[:, :k], c2w[:, :k], intr[:, :k], images[:, k], c2w[:, k], intr[:, k]


@pytest.mark.parametrize("representation", ["tower", "pool"])
@pytest.mark.parametrize("shared", [True, False])
def test_elbo_is_finite_and_trains_every_parameter(representation, shared):
    config = preset("tiny")
    config.representation, config.shared_core = representation, shared
    model = GQN(config)
    out = model(*batch(config), sigma=1.0)
    assert out["loss"].shape == () and torch.isfinite(out["loss"])
    assert torch.allclose(out["loss"], out["nll"] + out["kl"])
    assert out["kl"] >= 0
    out["loss"].backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    # An unshared first inference core sees only zero states (h_g, h_e) at step 0: its recurrent
    # weights cannot matter, as in the paper; everything else must learn.
    assert unused == ([] if shared else ["generator.inference_cores.0.conv.weight"])


def test_unshared_cores_have_one_core_per_step():
    config = preset("tiny")
    config.shared_core = False
    assert len(GQN(config).generator.generation_cores) == config.steps


def test_representation_is_a_sum_over_views_so_order_does_not_matter():
    model = GQN(preset("tiny")).eval()
    images, c2w, intr, *_ = batch(model.config, b=1, k=3)
    with torch.no_grad():
        a = model.encode(images, c2w, intr).r
        perm = torch.tensor([2, 0, 1])
        b = model.encode(images[:, perm], c2w[:, perm], intr[:, perm]).r
    assert torch.allclose(a, b, atol=1e-5)


def test_predict_shape_dtype_and_seed():
    model = GQN(preset("tiny")).eval()
    views = random_views(3, 32)
    queries = camera.orbit_path(4, 3.0)
    a = model.predict(views, queries, samples=5, seed=7)
    assert a.shape == (4, 5, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, model.predict(views, queries, samples=5, seed=7))
    assert not np.array_equal(a, model.predict(views, queries, samples=5, seed=8))
    assert not np.array_equal(a[:, 0], a[:, 1]), "samples of one query should differ"


def test_cached_context_gives_the_same_pixels_as_predict():
    model = GQN(preset("tiny")).eval()
    views = random_views(2, 32)
    queries = camera.orbit_path(3, 3.0)
    context = model.encode_views(views)
    assert np.array_equal(model.sample_views(context, queries, samples=2, seed=1),
                          model.predict(views, queries, samples=2, seed=1))


def test_bf16_autocast_runs_and_stays_close_to_fp32():
    config = preset("tiny")
    config.bf16 = True
    model = GQN(config).eval()
    views, queries = random_views(2, 32), camera.orbit_path(2, 3.0)
    bf16 = model.predict(views, queries, samples=1, seed=0).astype(float)
    model.config.bf16 = False
    fp32 = model.predict(views, queries, samples=1, seed=0).astype(float)
    assert np.abs(bf16 - fp32).mean() < 3.0


def photo_views(n: int, height: int, width: int, seed: int = 0, fov_x_deg: float = 60.0) -> ViewSet:
    """Random pictures from cameras on a ring about the origin, with an off-centre principal point."""
    rng = np.random.default_rng(seed)
    intrinsics = camera.intrinsics_from_fov(width, height, fov_x_deg) + [0, 0, 0.1 * width, -0.05 * height]
    images = rng.integers(0, 256, (n, height, width, 3), dtype=np.uint8)
    return ViewSet(images, camera.orbit_path(n, 4.0, 25.0), np.tile(intrinsics, (n, 1)))


@pytest.mark.parametrize("height, width, expected", [(48, 64, (24, 32)), (64, 36, (32, 18)), (30, 30, (32, 32))])
def test_predict_defaults_to_the_first_views_aspect_at_the_models_resolution(height, width, expected):
    model = GQN(preset("tiny")).eval()   # 32 px
    out = model.predict(photo_views(5, height, width), camera.orbit_path(2, 4.0, 10.0), samples=3)
    assert out.shape == (2, 3, *expected, 3) and out.dtype == np.uint8


def test_predict_renders_any_query_camera_at_any_size():
    config = preset("tiny")
    config.representation = "epipolar"      # the representation that looks along each query ray
    model = GQN(config).eval()
    views, queries = photo_views(6, 48, 64), camera.orbit_path(3, 4.0, 10.0)
    portrait = np.array([1.4, 0.8, 0.45, 0.55])                 # fx/W, fy/H, cx/W, cy/H
    out = model.predict(views, queries, samples=2, query_intrinsics=portrait, size=(50, 27))
    assert out.shape == (3, 2, 50, 27, 3)
    per_query = np.stack([portrait, portrait * [1.5, 1.5, 1, 1], portrait])
    wider = model.predict(views, queries, samples=2, query_intrinsics=per_query, size=(50, 27))
    assert np.array_equal(wider[0], out[0]) and not np.array_equal(wider[1], out[1])


def test_predict_takes_views_in_any_frame_and_units():
    from gqn.data.normalize import similarity_matrix, transform_poses, transform_views
    model = GQN(preset("tiny")).eval()
    views, queries = photo_views(6, 40, 40), camera.orbit_path(2, 4.0, 10.0)
    angle = 0.7
    rotation = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
    moved = similarity_matrix(37.0, rotation, np.array([5.0, -300.0, 12.0]))   # other units, tilted, elsewhere
    a = model.predict(views, queries, samples=2, seed=3).astype(int)
    b = model.predict(transform_views(views, moved), transform_poses(moved, queries), samples=2, seed=3).astype(int)
    assert np.abs(a - b).max() <= 2


def test_each_query_uses_its_own_nearest_context_views():
    config = preset("tiny")
    config.contexts = 2
    model = GQN(config).eval()
    views = photo_views(8, 32, 32)
    views.meta["format"] = "procedural"        # already in model space: nothing to normalise
    for a, b in ((1, 2), (5, 6)):
        query = views.c2w[a].copy()
        query[:3, 3] = 0.7 * views.positions[a] + 0.3 * views.positions[b]   # between views a and b, nearer a
        chosen = model.predict(views, query, samples=2, seed=4)
        assert np.array_equal(chosen, model.predict(views[[a, b]], query, samples=2, seed=4))
        assert not np.array_equal(chosen, model.predict(views[[(a + 2) % 8, (b + 2) % 8]], query, samples=2, seed=4))


@pytest.mark.parametrize("kwargs, message", [
    ({"query_c2w": np.full((4, 4), np.nan)}, "not a valid pose"),
    ({"query_c2w": np.eye(3)}, "4×4"),
    ({"query_intrinsics": np.array([0.0, 1.0, 0.5, 0.5])}, "positive focal"),
    ({"query_intrinsics": np.ones((3, 4))}, r"\[4\] or \[1,4\]"),
    ({"size": (0, 10)}, "pixels a side"),
    ({"size": "big"}, "height, width"),
    ({"query_c2w": camera.look_at(np.array([0.05, 0.0, 0.0]), np.array([1.0, 0.0, 0.0]))}, "inside the scene"),
])
def test_predict_refuses_bad_queries_clearly(kwargs, message):
    model = GQN(preset("tiny")).eval()
    args = {"query_c2w": camera.orbit_path(1, 4.0)[0], **kwargs}
    with pytest.raises(GQNError, match=message):
        model.predict(photo_views(4, 32, 48), args.pop("query_c2w"), samples=1, **args)


def test_predict_refuses_captures_it_cannot_place():
    model = GQN(preset("tiny")).eval()
    with pytest.raises(GQNError, match="at least 2 posed photos"):
        model.predict(photo_views(1, 32, 32), camera.orbit_path(1, 4.0), samples=1)
    outward = photo_views(6, 32, 32)
    outward.c2w[:, :3, 1:3] *= -1                 # every camera turned to face away from the others' scene
    with pytest.raises(GQNError, match="common region"):
        model.predict(outward, camera.orbit_path(1, 4.0), samples=1)


def test_viewpoint_matches_camera_module():
    c2w = camera.look_at(np.random.default_rng(3).normal(size=(6, 3)) * 2)
    expected = camera.viewpoint_vector(c2w)
    got = viewpoint(torch.as_tensor(c2w)).numpy()
    assert np.allclose(got, expected, atol=1e-6)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mq, lq, mp, lp = (torch.randn(10, generator=g) for _ in range(4))
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(mq, lq.exp()), torch.distributions.Normal(mp, lp.exp()))
    assert torch.allclose(gaussian_kl(mq, lq, mp, lp), expected, atol=1e-5)


def test_save_and_load_round_trip(tmp_path):
    model = GQN(preset("tiny")).eval()
    model.save(tmp_path / "m", card="# tiny\n")
    loaded = load_model(tmp_path / "m")
    assert loaded.config == model.config
    views, queries = random_views(2, 32), camera.orbit_path(2, 3.0)
    assert np.array_equal(loaded.predict(views, queries, samples=2), model.predict(views, queries, samples=2))
    assert (tmp_path / "m" / "card.md").read_text() == "# tiny\n"


def test_bad_model_folders_give_clear_errors(tmp_path):
    with pytest.raises(GQNError, match="no such model folder"):
        load_model(tmp_path / "nope")
    GQN(preset("tiny")).save(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(GQNError, match="model.safetensors"):
        load_model(tmp_path / "m")
    weights.write_bytes(b"\x80\x04\x95 a pickle, not safetensors")
    with pytest.raises(GQNError, match="model.safetensors"):
        load_model(tmp_path / "m")
    weights.write_bytes(data)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["h_channels"] = 24
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(GQNError, match="do not match config.json"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text('{"vocab_size": 50257}')
    with pytest.raises(GQNError, match="config.json"):
        load_model(tmp_path / "m")


def test_presets_and_parameter_counts():
    counts = {name: GQN(preset(name)).num_parameters() for name in ("tiny", "default", "paper")}
    assert counts["tiny"] < counts["default"] < counts["paper"]
    paper = preset("paper")
    assert (paper.r_channels, paper.steps, paper.h_channels, paper.z_channels, paper.kernel) == (256, 12, 128, 3, 5)


def test_gqn_imports_no_qt():
    code = ("import sys, gqn, gqn.cli, gqn.nn.model, gqn.train, gqn.camera; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'explorer', 'OpenGL')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
