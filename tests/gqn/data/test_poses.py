"""`gqn poses`: real structure from motion on rendered photos recovers the true cameras; cancel leaves nothing."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gqn.cli
import gqn.data.info
from gqn import load_views
from gqn.data.normalize import alignment_errors
from gqn.data.photo_scene import render_photos
from gqn.data.poses import estimate_poses
from gqn.data.readers import colmap
from gqn.errors import GQNError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """10 renders at 640×480 along an arc, one stored sideways with an EXIF orientation tag, one broken file."""
    images, c2w, intrinsics = render_photos(10, 640, 480, seed=0)
    folder = tmp_path_factory.mktemp("photos")
    for i, image in enumerate(images):
        path = folder / f"shot_{i:02d}.jpg"
        if i == 4:
            exif = Image.Exif()
            exif[0x0112] = 6  # stored turned 90° counter-clockwise; viewers turn it back
            Image.fromarray(np.ascontiguousarray(np.rot90(image))).save(path, quality=92, exif=exif)
        else:
            Image.fromarray(image).save(path, quality=92)
    (folder / "broken.jpg").write_bytes((folder / "shot_00.jpg").read_bytes()[:3000])
    return folder, c2w, intrinsics


def snapshot(folder: Path) -> dict:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_gqn_poses_recovers_the_rendered_cameras(photo_folder, tmp_path, capsys):
    folder, truth, intrinsics = photo_folder
    before = snapshot(folder)
    out = tmp_path / "posed"
    code = gqn.cli.main(["poses", str(folder), "--out", str(out), "--json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    result = lines[-1]
    assert code == 0 and result["event"] == "result"
    assert {line["stage"] for line in lines[:-1]} == {"prepare", "extract", "match", "map"}
    assert result["registered"] == 10 and result["photos"] == 11
    assert [u["name"] for u in result["unregistered"]] == ["broken.jpg"]
    assert snapshot(folder) == before                      # the photo folder is only read
    assert sorted(p.name for p in out.iterdir()) == ["images", "sparse", "sparse_pc.ply", "transforms.json"]
    assert not out.with_name("posed.partial").exists()

    views = load_views(out)
    assert [Path(name).name for name in views.names] == [f"shot_{i:02d}.jpg" for i in range(10)]
    assert views.skipped[0]["name"] == "broken.jpg"
    assert views.size == (480, 640)                        # the sideways photo is shown upright
    errors = alignment_errors(views.c2w, truth)
    assert errors["rotation_error_deg_max"] <= 1.0 and errors["position_error_max"] <= 0.01, errors
    np.testing.assert_allclose(views.intrinsics[:, 0], intrinsics[0], rtol=0.02)
    assert -views.c2w[:, 2, 1].mean() > 0.8                 # the world is z-up: cameras' up points along +z

    model = colmap.read_model(out / "sparse" / "0")
    assert model.problems == [] and len(model.images) == 10 and len(model.points) == result["points"] > 100
    # Read back whole: the points come with the frames, and the COLMAP model alone finds the photos.
    assert len(views.points) == result["points"] and views.point_colors.shape == (result["points"], 3)
    assert gqn.data.info.describe(out)["points"] == result["points"]
    alone = load_views(out / "sparse" / "0")
    assert len(alone) == 10 and len(alone.points) == result["points"]
    np.testing.assert_allclose(alone.c2w, views.c2w, atol=1e-6)


def test_sequential_matching_for_video_frames(photo_folder, tmp_path):
    folder, truth, _ = photo_folder
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(6):
        shutil.copy(folder / f"shot_{i:02d}.jpg", frames)
    result = estimate_poses(frames, tmp_path / "out", sequential=True, max_size=480)
    assert result["registered"] == 6
    assert alignment_errors(load_views(tmp_path / "out").c2w, truth[:6])["rotation_error_deg_max"] <= 1.0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_cancel_leaves_nothing_that_looks_complete(photo_folder, tmp_path, signum):
    folder, _, _ = photo_folder
    out = tmp_path / "posed"
    process = subprocess.Popen([sys.executable, "-m", "gqn", "poses", str(folder), "--out", str(out), "--json"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    for line in process.stdout:  # wait until the photos are prepared: SfM is running in pycolmap now
        event = json.loads(line)
        if event.get("stage") == "prepare" and event["done"] == event["total"]:
            break
    process.send_signal(signum)
    rest, errors = process.communicate(timeout=60)
    assert process.returncode == 130, errors
    assert "interrupted" in errors
    assert '"result"' not in rest
    assert not out.exists() and not out.with_name("posed.partial").exists()


def test_refuses_what_it_cannot_do(photo_folder, tmp_path):
    folder, _, _ = photo_folder
    (tmp_path / "taken").mkdir()
    with pytest.raises(GQNError, match="already exists"):
        estimate_poses(folder, tmp_path / "taken")
    single = tmp_path / "single"
    single.mkdir()
    shutil.copy(folder / "shot_00.jpg", single)
    with pytest.raises(GQNError, match="at least 2 photos, found 1"):
        estimate_poses(single, tmp_path / "out")
    blank = tmp_path / "blank"
    blank.mkdir()
    for i in range(3):
        Image.new("RGB", (64, 48), (90, 90, 90)).save(blank / f"{i}.png")
    with pytest.raises(GQNError, match="no reconstruction"):
        estimate_poses(blank, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
