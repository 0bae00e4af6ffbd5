import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from gqn import GQN
from gqn.cli import main
from gqn.config import preset
from gqn.data.dataset import SceneDataset, write_dataset
from gqn.evaluate import METRICS, choose_views
from gqn.grid import grid_shape
from gqn.metrics import psnr

SCENES, VIEWS, SIZE = 5, 5, 32


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    write_dataset(root / "data", "shepard-metzler-7", scenes=SCENES, views=VIEWS, size=SIZE, seed=3)
    torch.manual_seed(0)
    model = GQN(preset("tiny"))
    model.save(root / "untrained")                  # data_mean left at its 0.5 default
    model.data_mean.fill_(0.25)
    model.save(root / "with-mean")
    return root


def evaluate_json(capsys, *argv: str) -> dict:
    assert main(["evaluate", *argv, "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    return json.loads(lines[-1])


def test_json_result_has_every_metric_for_every_context_count_and_a_grid(folders, capsys, tmp_path):
    grid = tmp_path / "grid.png"
    result = evaluate_json(capsys, "--model", str(folders / "untrained"), "--data", str(folders / "data"),
                           "--contexts", "1", "3", "--samples", "3", "--grid", str(grid))
    for key in METRICS + ["contexts", "samples", "scenes", "model", "data"]:
        assert key in result
    assert (result["contexts"], result["samples"], result["scenes"]) == (1, 3, SCENES)
    assert [r["contexts"] for r in result["by_contexts"]] == [1, 3]
    assert result["by_contexts"][0]["psnr_mean"] == result["psnr_mean"]
    for r in result["by_contexts"]:
        assert all(math.isfinite(r[key]) for key in METRICS)
        assert r["psnr_best"] >= r["psnr_mean"] - 0.5 and r["kl_per_image"] >= 0 and r["sample_spread"] > 0
    assert "evaluation data" in result["baseline_mean_from"]
    # one row per scene: 1 context | truth | mean | 3 samples | std
    assert Image.open(grid).size == grid_shape(SCENES, 1 + 2 + 3 + 1, SIZE, title=True)


def test_baselines_are_computed_on_the_chosen_queries(folders, capsys):
    result = evaluate_json(capsys, "--model", str(folders / "with-mean"), "--data", str(folders / "data"),
                           "--contexts", "1", "--samples", "2", "--seed", "7")
    dataset = SceneDataset(folders / "data")
    order = choose_views(np.arange(SCENES), VIEWS, 7)
    queries = dataset.images[np.arange(SCENES), order[:, 0]]
    contexts = dataset.images[np.arange(SCENES), order[:, 1]]
    # one context: the nearest context view is that view; the model's stored mean image is 0.25 grey
    assert result["baseline_nearest_psnr"] == pytest.approx(psnr(contexts, queries).mean(), abs=1e-4)
    assert result["baseline_mean_psnr"] == pytest.approx(psnr(np.full_like(queries, 0.25, float), queries).mean(), abs=1e-3)
    assert "training data" in result["baseline_mean_from"]


def test_the_same_seed_gives_the_same_figures_and_views_do_not_depend_on_the_scene_set(folders, capsys):
    argv = ["--model", str(folders / "untrained"), "--data", str(folders / "data"), "--samples", "2", "--contexts", "2"]
    assert evaluate_json(capsys, *argv) == evaluate_json(capsys, *argv)
    assert evaluate_json(capsys, *argv, "--seed", "1")["psnr_mean"] != evaluate_json(capsys, *argv)["psnr_mean"]
    everything = choose_views(np.arange(SCENES), VIEWS, 0)
    np.testing.assert_array_equal(choose_views(np.array([3]), VIEWS, 0)[0], everything[3])
    assert all(sorted(row) == list(range(VIEWS)) for row in everything)


@pytest.mark.parametrize("argv, message", [
    (["--model", "{root}/missing"], "missing"),
    (["--data", "{root}/nowhere"], "nowhere"),
    (["--contexts", "5"], "--contexts 5"),
    (["--model", "{root}/corrupt"], "model.safetensors"),
])
def test_bad_input_is_a_clear_error(folders, capsys, argv, message):
    corrupt = folders / "corrupt"
    corrupt.mkdir(exist_ok=True)
    (corrupt / "config.json").write_text((folders / "untrained" / "config.json").read_text())
    (corrupt / "model.safetensors").write_bytes(b"not safetensors")
    base = {"--model": str(folders / "untrained"), "--data": str(folders / "data")}
    base.update(dict(zip(argv[::2], (a.format(root=folders) for a in argv[1::2]))))
    assert main(["evaluate", *[x for kv in base.items() for x in kv], "--samples", "1"]) == 2
    assert message in capsys.readouterr().err
