import json

import numpy as np
import pytest
import torch
from PIL import Image

from gqn import GQN, camera
from gqn.cli import main
from gqn.config import preset
from gqn.data.dataset import write_dataset
from gqn.grid import grid_shape
from gqn.predict import orbit_around

VIEWS, SIZE = 5, 32


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    write_dataset(root / "data", "shepard-metzler-7", scenes=2, views=VIEWS, size=SIZE, seed=5)
    torch.manual_seed(0)
    GQN(preset("tiny")).save(root / "model")
    return root


def predict(folders, capsys, *argv: str) -> dict:
    assert main(["predict", "--model", str(folders / "model"), "--views", str(folders / "data"), *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_orbit_writes_one_png_per_query_and_sample(folders, capsys, tmp_path):
    result = predict(folders, capsys, "--scene", "1", "--orbit", "4", "--samples", "2", "--out", str(tmp_path / "orbit"))
    assert (result["queries"], result["samples"], result["contexts"]) == (4, 2, [0, 1, 2])
    assert sorted(p.name for p in (tmp_path / "orbit").iterdir()) == [f"{q:03d}-{s}.png" for q in range(4) for s in range(2)]
    assert Image.open(tmp_path / "orbit" / "003-1.png").size == (SIZE, SIZE)


def test_held_out_views_make_a_grid_with_the_truth_and_the_same_seed_repeats(folders, capsys, tmp_path):
    argv = ["--contexts", "0", "2", "--samples", "3", "--seed", "4"]
    predict(folders, capsys, *argv, "--out", str(tmp_path / "a.png"))
    predict(folders, capsys, *argv, "--out", str(tmp_path / "b.png"))
    a = np.asarray(Image.open(tmp_path / "a.png"))
    assert a.shape[1::-1] == grid_shape(VIEWS - 2, 1 + 3, SIZE)      # views 1, 3, 4: truth + 3 samples
    np.testing.assert_array_equal(a, np.asarray(Image.open(tmp_path / "b.png")))


def test_cameras_from_a_json_file(folders, capsys, tmp_path):
    cameras = camera.orbit_path(3, 3.0, 30.0)
    (tmp_path / "cams.json").write_text(json.dumps({"c2w": cameras.tolist()}))
    result = predict(folders, capsys, "--cameras", str(tmp_path / "cams.json"), "--contexts-count", "2",
                     "--out", str(tmp_path / "out"))
    assert result["queries"] == 3 and len(result["files"]) == 3


@pytest.mark.parametrize("cameras, argv, message", [
    ([[[np.nan] * 4] * 4], [], "not a valid pose"),
    ([[1, 0]], [], "4×4"),
    (None, ["--contexts", "0", "7"], "--contexts"),
    (None, ["--contexts-count", "5"], "every view is a context"),
])
def test_bad_input_is_a_clear_error(folders, capsys, tmp_path, cameras, argv, message):
    if cameras is not None:
        (tmp_path / "cams.json").write_text(json.dumps(cameras))
        argv = [*argv, "--cameras", str(tmp_path / "cams.json")]
    code = main(["predict", "--model", str(folders / "model"), "--views", str(folders / "data"), *argv,
                 "--out", str(tmp_path / "x.png")])
    assert code == 2 and message in capsys.readouterr().err


def test_orbit_circles_the_point_the_cameras_look_at():
    center = np.array([1.0, 2.0, 0.5])
    eyes = center + camera.spherical_to_position(4.0, np.radians([10, 70, 200]), np.radians(30))
    orbit = orbit_around(camera.look_at(eyes, center), 6)
    offsets = orbit[:, :3, 3] - center
    np.testing.assert_allclose(np.linalg.norm(offsets, axis=1), 4.0, atol=1e-9)
    np.testing.assert_allclose(offsets[:, 2], 4.0 * np.sin(np.radians(30)), atol=1e-9)
    np.testing.assert_allclose(np.einsum("ni,ni->n", orbit[:, :3, 2], -offsets / 4.0), 1.0, atol=1e-9)  # looking at it
