import json

import numpy as np
import pytest

import gqn.cli
from gqn import camera
from gqn.data import dataset
from gqn.data.dataset import SceneDataset, scene_seed, write_dataset
from gqn.errors import GQNError
from gqn.scenes import render_views, scene_from_meta

KIND = "shepard-metzler-5"


def generate(out, seed=2, scenes=5, extra=()):
    return gqn.cli.main(["scenes", "--kind", KIND, "--scenes", str(scenes), "--views", "3", "--size", "32",
                         "--seed", str(seed), "--out", str(out), "--json", *extra])


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_generate_with_the_cli_and_read_back(tmp_path, capsys):
    out = tmp_path / "sm5"
    assert generate(out) == 0
    result = last_json(capsys)
    assert result["event"] == "result" and result["scenes"] == 5 and result["resumed_from"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sm5"]  # no .partial left behind

    data = SceneDataset(out)
    assert len(data) == 5 and isinstance(data.images, np.memmap) and isinstance(data.c2w, np.memmap)
    assert data.images.shape == (5, 3, 32, 32, 3) and data.intrinsics.shape == (5, 3, 4)
    assert data.meta["kind"] == KIND and data.meta["complete"] is True
    views = data.scene(3)
    expected = render_views(KIND, scene_seed(2, 3), 3, 32)
    assert np.array_equal(views.images, expected.images) and np.array_equal(views.c2w, expected.c2w)
    assert np.array_equal(scene_from_meta(views.meta).render(views.c2w, views.intrinsics, 32), views.images)
    with pytest.raises(GQNError, match="not scene 5"):
        data.scene(5)


def test_a_killed_run_resumes_and_ends_identical(tmp_path, capsys, monkeypatch):
    save = dataset.DatasetWriter._save_progress

    def killed_after_first_chunk(self):
        save(self)
        if self.done >= 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(dataset.DatasetWriter, "_save_progress", killed_after_first_chunk)
    out = tmp_path / "sm5"
    with pytest.raises(KeyboardInterrupt):
        write_dataset(out, KIND, 5, 3, 32, seed=2, chunk=2)
    monkeypatch.setattr(dataset.DatasetWriter, "_save_progress", save)
    partial = tmp_path / "sm5.partial"
    assert not out.exists() and json.loads((partial / "progress.json").read_text())["done"] == 2

    assert generate(out, seed=3) == 2  # other arguments: refuses to mix the two runs
    assert "sm5.partial" in capsys.readouterr().err
    assert generate(out) == 0
    assert last_json(capsys)["resumed_from"] == 2
    assert generate(tmp_path / "fresh") == 0
    resumed, fresh = SceneDataset(out), SceneDataset(tmp_path / "fresh")
    for name in ("images", "c2w", "intrinsics"):
        assert np.array_equal(getattr(resumed, name), getattr(fresh, name))
    assert generate(out) == 2  # never overwrites a finished dataset
    assert "already exists" in capsys.readouterr().err


def write_raw(path, scenes=4, views=2, size=8):
    """A valid dataset written by hand, to break in one place."""
    path.mkdir()
    eye = camera.spherical_to_position(3.0, np.linspace(0, 6, scenes * views), 0.3).reshape(scenes, views, 3)
    np.save(path / "images.npy", np.zeros((scenes, views, size, size, 3), np.uint8))
    np.save(path / "c2w.npy", camera.look_at(eye))
    np.save(path / "intrinsics.npy", np.tile(camera.intrinsics_from_fov(size, size, 45.0), (scenes, views, 1)))
    meta = {"format": "procedural", "kind": KIND, "scenes": scenes, "views": views, "size": size, "seed": 0,
            "complete": True}
    (path / "meta.json").write_text(json.dumps(meta))
    return path


def break_nan_camera(path):
    c2w = np.load(path / "c2w.npy")
    c2w[2, 1, 0, 3] = np.nan
    np.save(path / "c2w.npy", c2w)


def break_singular_camera(path):
    c2w = np.load(path / "c2w.npy")
    c2w[1, 0, :3, :3] = 0.0
    np.save(path / "c2w.npy", c2w)


def break_truncate_images(path):
    file = path / "images.npy"
    file.write_bytes(file.read_bytes()[:-200])  # 2 views of 8x8x3 = 384 bytes per scene: scene 3 is cut


def break_shape(path):
    np.save(path / "intrinsics.npy", np.zeros((4, 2, 3)))


def break_missing(path):
    (path / "c2w.npy").unlink()


def break_incomplete(path):
    meta = json.loads((path / "meta.json").read_text())
    (path / "meta.json").write_text(json.dumps({**meta, "complete": False}))


def break_bad_focal(path):
    intrinsics = np.load(path / "intrinsics.npy")
    intrinsics[3, 1, 0] = 0.0
    np.save(path / "intrinsics.npy", intrinsics)


@pytest.mark.parametrize("breaks, message", [
    (break_nan_camera, r"c2w\.npy: scene 2 view 1: camera has NaN"),
    (break_singular_camera, r"c2w\.npy: scene 1 view 0: camera is not a rigid"),
    (break_truncate_images, r"images\.npy: truncated: holds 3 of 4 scenes \(scene 3 is cut off\)"),
    (break_shape, r"intrinsics\.npy: has shape \[4, 2, 3\], expected \[4, 2, 4\]"),
    (break_missing, r"c2w\.npy: missing"),
    (break_incomplete, r"meta\.json: the dataset is marked incomplete"),
    (break_bad_focal, r"intrinsics\.npy: scene 3 view 1"),
])
def test_bad_datasets_name_the_file_and_scene(tmp_path, breaks, message):
    path = write_raw(tmp_path / "data")
    assert len(SceneDataset(path)) == 4
    breaks(path)
    with pytest.raises(GQNError, match=message):
        SceneDataset(path)
