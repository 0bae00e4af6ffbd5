import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gqn import GQN, load_model
from gqn.checkpoint import save_model
from gqn.config import preset
from gqn.cli import main
from gqn.data.dataset import SceneDataset, write_dataset
from gqn.train import BatchSampler, anneal, turned_at_random

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "sm"
    write_dataset(out, "shepard-metzler-7", scenes=12, views=5, size=32, seed=3)
    return out


def train(data, out, *extra):
    args = ["train", "--data", str(data), "--out", str(out), "--preset", "tiny", "--batch", "4",
            "--checkpoint-every", "1000", "--log-every", "1", "--json", *extra]
    assert main(args) == 0


def weights(run):
    folder = Path(run) / (Path(run) / "latest").read_text().strip()
    return load_file(str(folder / "model.safetensors"))


def test_schedules_anneal_over_their_fraction_of_the_run():
    assert anneal(2.0, 0.7, 0.5, 0, 100) == 2.0
    assert anneal(2.0, 0.7, 0.5, 25, 100) == pytest.approx(1.35)
    assert anneal(2.0, 0.7, 0.5, 50, 100) == pytest.approx(0.7)
    assert anneal(2.0, 0.7, 0.5, 99, 100) == pytest.approx(0.7)


def test_pose_noise_turns_cameras_about_their_centres_by_about_the_spread_asked():
    c2w = torch.eye(4, dtype=torch.float64).repeat(4000, 1, 1)
    c2w[:, :3, 3] = torch.randn(4000, 3, dtype=torch.float64)
    turned = turned_at_random(c2w, 0.3, torch.Generator().manual_seed(0))
    rotation = turned[:, :3, :3]
    assert torch.allclose(rotation @ rotation.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(4000, 3, 3))
    assert torch.equal(turned[:, :3, 3], c2w[:, :3, 3]) and torch.equal(turned[:, 3], c2w[:, 3])
    angle = torch.arccos(((rotation.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1)).rad2deg()
    # the length of a 3-d normal vector with 0.3° per axis: mean 0.3·√(8/π) ≈ 0.479°
    assert 0.45 < float(angle.mean()) < 0.51


def test_a_batch_can_ask_for_its_number_of_contexts(data):
    """As `gqn fit` times one batch of each size the run will draw."""
    sampler = BatchSampler(SceneDataset(data), preset("tiny"), max_contexts=4)
    for contexts in (1, 3, 4):
        assert sampler.draw(3, torch.Generator().manual_seed(1), contexts).context_images.shape[:2] == (3, contexts)


def test_training_writes_metrics_checkpoint_and_a_loadable_model(data, tmp_path, capsys):
    train(data, tmp_path / "run", "--steps", "4")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["event"] == "result" and lines[-1]["step"] == 4
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(r["loss"] == pytest.approx(r["nll"] + r["kl"], rel=1e-4) for r in rows)
    model = load_model(tmp_path / "run")
    assert model.config.trained_on["kind"] == "shepard-metzler-7"
    assert model.config.image_size == 32
    assert not torch.allclose(model.data_mean, torch.full_like(model.data_mean, 0.5)), "mean image not recorded"


def test_resume_continues_bit_for_bit(data, tmp_path):
    train(data, tmp_path / "straight", "--steps", "6")
    train(data, tmp_path / "split", "--steps", "6", "--until", "3")
    assert json.loads((tmp_path / "split" / (tmp_path / "split" / "latest").read_text().strip() / "train.json").read_text())["step"] == 3
    train(data, tmp_path / "split", "--steps", "6", "--resume")
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [1, 2, 3, 4, 5, 6]


def test_a_photo_run_resumes_bit_for_bit_trust_gate_and_all(tmp_path):
    """The trust gate's prior samples draw their noise from the run's generator, as the posterior does."""
    from gqn.scenes import photo_world
    photo_world.write_dataset(tmp_path / "photos", scenes=2, views=5, size=32, seed=3, points=200)

    def photo_train(out, *extra):
        assert main(["train", "--data", str(tmp_path / "photos"), "--out", str(out), "--preset", "photo", "--batch", "2",
                     "--steps", "4", "--crop", "16", "--checkpoint-every", "1000", "--log-every", "1", "--json", *extra]) == 0
    photo_train(tmp_path / "straight")
    photo_train(tmp_path / "split", "--until", "2")
    photo_train(tmp_path / "split", "--resume")
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    assert any(k.startswith("generator.trust.") for k in a)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows = [json.loads(r) for r in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert all(r["loss"] == pytest.approx(r["nll"] + r["kl"] + r["trust_nll"], rel=1e-4) for r in rows)


def test_an_existing_run_is_not_overwritten_without_resume(data, tmp_path, capsys):
    train(data, tmp_path / "run", "--steps", "1")
    before = weights(tmp_path / "run")
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--preset", "tiny", "--steps", "2"]) == 2
    assert "--resume" in capsys.readouterr().err
    after = weights(tmp_path / "run")
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_dataset_that_is_not_there_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "run"), "--preset", "tiny"]) == 2
    assert "missing" in capsys.readouterr().err


def test_init_starts_from_a_models_weights(data, tmp_path):
    train(data, tmp_path / "first", "--steps", "2")
    train(data, tmp_path / "second", "--steps", "1", "--lr", "0", "--init", str(tmp_path / "first"))
    before, after = weights(tmp_path / "first"), weights(tmp_path / "second")
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_init_grows_a_model_whose_new_parts_start_fresh(tmp_path, capsys):
    """The photo preset's point candidates added to a sweep model trained without them."""
    from gqn.scenes import photo_world
    photo_world.write_dataset(tmp_path / "photos", scenes=2, views=5, size=32, seed=3, points=200)
    smaller = GQN(dataclasses.replace(preset("photo"), image_size=32, point_candidates=0))
    save_model(smaller, tmp_path / "smaller")
    assert main(["train", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "grown"), "--preset", "photo",
                 "--batch", "2", "--steps", "1", "--lr", "0", "--init", str(tmp_path / "smaller")]) == 0
    told = capsys.readouterr().err
    assert "new parameters start fresh:" in told and "sweep.choose.0.weight" in told and "sweep.encoder" not in told
    before, after = smaller.state_dict(), weights(tmp_path / "grown")
    assert all(torch.equal(before[k], after[k]) for k in before if k != "data_mean")
    assert "sweep.choose.2.weight" in after


def test_init_from_a_model_of_another_shape_is_a_clear_error(data, tmp_path, capsys):
    train(data, tmp_path / "tiny", "--steps", "1")
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--preset", "default",
                 "--init", str(tmp_path / "tiny")]) == 2
    assert "do not fit this model" in capsys.readouterr().err
    assert not (tmp_path / "run" / "latest").exists()


def test_max_minutes_stops_cleanly_with_a_checkpoint(data, tmp_path, capsys):
    train(data, tmp_path / "run", "--steps", "1000", "--max-minutes", "0.0001")
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["stopped"] == "max-minutes" and 1 <= result["step"] < 1000
    assert (tmp_path / "run" / "latest").exists()


def test_sigterm_writes_a_checkpoint_and_exits_cleanly(data, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "gqn", "train", "--data", str(data), "--out", str(run), "--preset", "tiny",
                             "--batch", "4", "--steps", "100000", "--log-every", "1", "--checkpoint-every", "100000", "--json"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    for line in proc.stdout:
        if json.loads(line).get("event") == "progress":
            break
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    result = json.loads(out.splitlines()[-1])
    assert result["stopped"] == "signal"
    assert load_model(run).config.trained_on["kind"] == "shepard-metzler-7"


def test_two_gloo_processes_equal_one_process_on_the_combined_batch(data, tmp_path):
    common = ["--data", str(data), "--preset", "tiny", "--batch", "4", "--steps", "2", "--fp32", "--json"]
    assert main(["train", "--out", str(tmp_path / "one"), *common]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
                             "-m", "gqn", "train", "--out", str(tmp_path / "two"), *common],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    a, b = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert all(torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4) for k in a)
