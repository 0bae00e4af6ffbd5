"""Next-best-view ranking: candidate cameras, their scores, the CLI's JSON."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gqn import GQN, camera, load_model
from gqn.cli import main
from gqn.config import preset
from gqn.data.dataset import write_dataset
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError
from gqn.nextview import (CHUNK, MAX_ELEVATION_DEG, candidate_cameras, capture_sphere, rank_views, score_cameras,
                         spread)
from gqn.scenes import render_views

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "resources" / "models" / "default"


def elevations(c2w: np.ndarray, centre: np.ndarray) -> np.ndarray:
    offset = c2w[:, :3, 3] - centre
    return np.rad2deg(np.arcsin(offset[:, 2] / np.linalg.norm(offset, axis=-1)))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    return GQN(preset("tiny")).save(tmp_path_factory.mktemp("nextview") / "model")


def test_candidates_look_at_the_centre_from_the_cameras_distance_all_round():
    capture = camera.look_at(camera.spherical_to_position(5.0, [0.0, 2.0, 4.0], np.deg2rad([-40.0, 10.0, 50.0]),
                                                          (1.0, 2.0, 3.0)), (1.0, 2.0, 3.0))
    centre, radius, band = capture_sphere(capture)
    np.testing.assert_allclose(centre, [1, 2, 3], atol=1e-9)
    assert radius == pytest.approx(5.0) and band == (-MAX_ELEVATION_DEG, MAX_ELEVATION_DEG)
    candidates = candidate_cameras(capture, 60)
    assert candidates.shape == (60, 4, 4) and camera.valid_poses(candidates).all()
    towards = centre - candidates[:, :3, 3]
    np.testing.assert_allclose(np.linalg.norm(towards, axis=-1), 5.0)
    np.testing.assert_allclose(np.einsum("ni,ni->n", candidates[:, :3, 2], towards / 5.0), 1.0)
    np.testing.assert_allclose(candidates[:, 2, 0], 0.0, atol=1e-9)  # no roll: the x axis stays horizontal
    heights = elevations(candidates, centre)
    assert heights.min() < -60 and heights.max() > 60 and np.abs(heights).max() <= MAX_ELEVATION_DEG + 1e-9
    azimuths = np.arctan2(towards[:, 1], towards[:, 0])
    assert np.histogram(azimuths, bins=4, range=(-np.pi, np.pi))[0].min() >= 10  # all the way round


def test_cameras_above_the_scene_suggest_the_upper_half_only():
    capture = camera.look_at(camera.spherical_to_position(3.0, np.linspace(0, 6, 8), np.deg2rad(30.0)))
    centre, _, band = capture_sphere(capture)
    assert band == (0.0, MAX_ELEVATION_DEG)
    assert elevations(candidate_cameras(capture, 40), centre).min() >= 0.0


def test_cameras_that_look_the_same_way_need_sparse_points_to_find_the_scene(tiny):
    forward = np.repeat(np.eye(4)[None], 3, 0)                 # side by side, all looking along +z
    forward[:, 0, 3] = [-1.0, 0.0, 1.0]
    with pytest.raises(GQNError, match="do not look at a common point"):
        capture_sphere(forward)
    points = np.random.default_rng(0).normal([0, 0, 6], 0.5, (50, 3))
    centre, radius, band = capture_sphere(forward, points)
    assert np.linalg.norm(centre - [0, 0, 6]) < 0.5 and radius == pytest.approx(6, rel=0.1)
    views = ViewSet(np.zeros((3, 32, 32, 3), np.uint8), forward, source="forward.json")
    with pytest.raises(GQNError, match="forward.json: the 3 camera"):
        rank_views(load_model(tiny), views, count=4, samples=2)


def test_bad_requests_are_clear_errors(tiny):
    views = render_views("shepard-metzler-7", 1, 3, 32)
    with pytest.raises(GQNError, match="at least 1"):
        candidate_cameras(views.c2w, 0)
    with pytest.raises(GQNError, match="at least 2 samples"):
        score_cameras(load_model(tiny), views, views.c2w, samples=1)


def test_spread_is_the_mean_per_pixel_standard_deviation_of_the_samples():
    same = np.full((1, 4, 8, 8, 3), 90, np.uint8)
    half = np.zeros((1, 2, 8, 8, 3), np.uint8)
    half[0, 1, :4] = 255                       # two samples differ by 1.0 on half the pixels: std 0.5 there
    np.testing.assert_allclose(spread(np.concatenate([same[:, :2], half])), [0.0, 0.25], atol=1e-6)


def test_ranking_is_sorted_repeatable_and_reports_progress_and_cancel(tiny):
    model, views = load_model(tiny), render_views("shepard-metzler-7", 2, 3, 32)
    seen = []
    ranking = rank_views(model, views, count=30, samples=3, progress=lambda done, total: seen.append((done, total)))
    assert ranking.c2w.shape == (30, 4, 4) and ranking.scores.shape == (30,)
    assert np.all(np.diff(ranking.scores) <= 0) and ranking.scores[-1] >= 0
    assert seen == [(done, 30) for done in range(CHUNK, 31, CHUNK)]
    again = rank_views(model, views, count=30, samples=3)
    np.testing.assert_array_equal(again.c2w, ranking.c2w)
    np.testing.assert_array_equal(again.scores, ranking.scores)
    assert rank_views(model, views, count=30, samples=3, cancelled=lambda: True) is None


def test_the_trained_model_is_surer_where_it_has_photos_than_where_the_guide_points():
    model = load_model(DEFAULT_MODEL)
    views = render_views(model.config.trained_on["kind"], 3, 3, model.config.image_size)
    ranking = rank_views(model, views, count=24, samples=8)
    at_photos = score_cameras(model, views, views.c2w, samples=8)
    assert at_photos.max() < ranking.scores[0]
    assert at_photos.mean() < np.median(ranking.scores)


def test_cli_prints_the_ranked_candidates_as_json(tiny, tmp_path, capsys):
    write_dataset(tmp_path / "data", "shepard-metzler-7", scenes=1, views=5, size=32, seed=3)
    argv = ["next-view", "--model", str(tiny), "--views", str(tmp_path / "data"), "--scene", "0",
            "--contexts", "0", "2", "--candidates", "12", "--samples", "2", "--json"]
    assert main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line["event"] for line in lines] == ["progress"] * -(-12 // CHUNK) + ["result"]
    assert [line["done"] for line in lines[:-1]] == [min(done, 12) for done in range(CHUNK, 12 + CHUNK, CHUNK)]
    result = lines[-1]
    assert result["views"] == 2 and len(result["candidates"]) == 12
    c2w = np.array([c["c2w"] for c in result["candidates"]])
    scores = [c["score"] for c in result["candidates"]]
    assert c2w.shape == (12, 4, 4) and camera.valid_poses(c2w).all() and scores == sorted(scores, reverse=True)


def test_cli_names_the_bad_input(tiny, tmp_path, capsys):
    assert main(["next-view", "--model", str(tiny), "--views", str(tmp_path / "nothing"), "--json"]) == 2
    assert "nothing" in capsys.readouterr().err
    write_dataset(tmp_path / "data", "shepard-metzler-7", scenes=1, views=3, size=32, seed=3)
    assert main(["next-view", "--model", str(tiny), "--views", str(tmp_path / "data"), "--contexts", "7"]) == 2
    assert "--contexts must name views 0 to 2" in capsys.readouterr().err
