import json

import numpy as np
import pytest

from gqn import load_model
from gqn.cli import main
from gqn.data.dataset import write_dataset
from gqn.fit import holdout_indices


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("fit")
    write_dataset(root / "train", "shepard-metzler-7", scenes=8, views=6, size=32, seed=1)
    write_dataset(root / "other", "shepard-metzler-7", scenes=2, views=10, size=32, seed=77)
    assert main(["train", "--data", str(root / "train"), "--out", str(root / "run"), "--preset", "tiny",
                 "--batch", "4", "--steps", "3", "--json"]) == 0
    return root


def fit(root, out, *extra):
    return main(["fit", "--model", str(root / "run"), "--views", str(root / "other"), "--scene", "1", "--out", str(out),
                 "--steps", "4", "--batch", "4", "--holdout", "2", "--checkpoint-every", "2", "--log-every", "1",
                 "--samples", "2", "--json", *extra])


def test_holdout_views_are_spread_and_leave_enough_to_train():
    assert list(holdout_indices(10, 2)) == [2, 7]
    assert list(holdout_indices(10, 0)) == []
    with pytest.raises(Exception, match="at least 2"):
        holdout_indices(3, 2)


def test_fit_streams_validation_against_the_nearest_photo_and_resumes(trained, tmp_path, capsys):
    assert fit(trained, tmp_path / "fitted", "--until", "2") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    validations = [line for line in lines if "psnr" in line]
    assert validations and all(np.isfinite(v["psnr"]) and np.isfinite(v["baseline_nearest_psnr"]) for v in validations)
    assert lines[-1]["event"] == "result" and lines[-1]["step"] == 2 and lines[-1]["validated_on"] == 2
    assert fit(trained, tmp_path / "fitted", "--resume") == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["step"] == 4
    model = load_model(tmp_path / "fitted")
    assert model.config.trained_on["fitted_to"].endswith("other")
    assert model.config.trained_on["kind"] == "shepard-metzler-7"


def test_fit_refuses_a_scene_too_small_to_hold_out(trained, tmp_path, capsys):
    code = main(["fit", "--model", str(trained / "run"), "--views", str(trained / "other"), "--scene", "0",
                 "--out", str(tmp_path / "f"), "--holdout", "9"])
    assert code == 2
    assert "at least 2" in capsys.readouterr().err


def test_max_minutes_alone_sizes_the_schedule_to_end_in_that_time(trained, tmp_path, capsys):
    """No --steps: the steps are measured to fit the minutes, and the run checkpoints ten times."""
    assert main(["fit", "--model", str(trained / "run"), "--views", str(trained / "other"), "--scene", "1",
                 "--out", str(tmp_path / "sized"), "--batch", "2", "--holdout", "0", "--max-minutes", "0.05",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    run = tmp_path / "sized"
    info = json.loads((run / (run / "latest").read_text().strip() / "train.json").read_text())
    steps = info["train"]["steps"]
    assert steps != 300 and steps >= 1                          # sized, not the fixed default
    assert info["train"]["checkpoint_every"] == max(1, steps // 10)
    assert result["stopped"] in ("done", "max-minutes") and result["step"] >= 1


def test_fit_can_hold_out_exactly_the_photos_evaluate_scores(trained, tmp_path, capsys):
    from gqn import load_views
    from gqn.evaluate_capture import held_out_indices
    assert fit(trained, tmp_path / "fair", "--holdout-every", "4", "--holdout-start", "1", "--until", "2") == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    views = load_views(trained / "other", scene=1)
    held = held_out_indices(views.names, 4, 1)[0]
    assert result["validated_on"] == len(held) and 0 < len(held) < len(views)
    assert load_model(tmp_path / "fair").config.trained_on["fitted_views"] == len(views) - len(held)
