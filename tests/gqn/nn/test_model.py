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


def test_resized_inputs_warn_instead_of_failing():
    model = GQN(preset("tiny")).eval()
    with pytest.warns(UserWarning, match="resizing"):
        out = model.predict(random_views(2, 48), camera.orbit_path(1, 3.0), samples=1)
    assert out.shape == (1, 1, 32, 32, 3)


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
