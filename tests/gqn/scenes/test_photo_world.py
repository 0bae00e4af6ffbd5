"""The photo world: captures that look like phone photos, with exact depth and SfM-like sparse points."""

import json

import numpy as np
import pytest

import gqn.cli
from gqn.errors import GQNError
from gqn import camera, load_views
from gqn.data.dataset import SceneDataset
from gqn.scenes import photo_render as pr
from gqn.scenes import photo_world
from gqn.scenes.photo_textures import PHOTOS, skimage_data_folder, texture_bank


def project(points, c2w, intrinsics):
    """(u, v, z) arrays of camera.project."""
    pixels, z = camera.project(points, c2w, intrinsics)
    return pixels[..., 0], pixels[..., 1], z


@pytest.fixture(scope="module")
def capture():
    return photo_world.render_capture(5, views=12, size=64, points=400)


def test_capture_shapes_poses_and_meta(capture):
    views = capture.views
    height, width = views.size
    assert views.images.dtype == np.uint8 and views.images.shape == (12, height, width, 3) and max(height, width) == 64
    assert camera.valid_poses(views.c2w).all()
    assert np.allclose(views.intrinsics, views.intrinsics[0])  # one phone per capture
    assert capture.depth.shape == (12, height, width) and capture.depth.dtype == np.float32
    assert np.isfinite(capture.depth).all() and (capture.depth > 0).all()
    assert views.meta["near"] == pytest.approx(capture.depth.min()) and views.meta["far"] == pytest.approx(capture.depth.max())
    assert views.meta["kind"] == "photo-world" and views.meta["seed"] == 5
    assert views.points.dtype == np.float32 and views.point_colors.dtype == np.uint8
    assert 100 < len(views.points) <= 400 and capture.visibility.shape == (len(views.points), 12)
    assert views.images.std() > 20  # textured, not flat colour


def test_same_seed_same_capture_other_seed_other_capture():
    first, again = (photo_world.render_capture(9, views=4, size=32, points=50) for _ in range(2))
    other = photo_world.render_capture(10, views=4, size=32, points=50)
    assert np.array_equal(first.views.images, again.views.images) and np.array_equal(first.views.c2w, again.views.c2w)
    assert np.array_equal(first.views.points, again.views.points)
    assert first.views.images.shape != other.views.images.shape or not np.array_equal(first.views.images, other.views.images)


@pytest.mark.parametrize("layout", photo_world.LAYOUTS)
def test_every_camera_looks_at_the_objects(layout):
    for seed in range(3):
        views = photo_world.render_capture(seed, views=10, size=48, layout=layout, points=0).views
        world = photo_world.make_world(seed)
        height, width = views.size
        u, v, z = project(world.target, views.c2w, views.intrinsics)
        assert (z > 0).all()
        assert ((u > 0.1 * width) & (u < 0.9 * width) & (v > 0.1 * height) & (v < 0.9 * height)).all(), (seed, layout)
        assert (views.positions >= world.bounds[0] - 1e-9).all() and (views.positions <= world.bounds[1] + 1e-9).all()
        assert not photo_world.inside_solids(world, views.positions, margin=0.0).any()


def test_forward_sweeps_face_one_way_and_orbits_go_around():
    forward = photo_world.render_capture(1, views=20, size=32, layout="forward", points=0).views.c2w[:, :3, 2]
    orbit = photo_world.render_capture(1, views=20, size=32, layout="orbit", points=0).views.c2w[:, :3, 2]
    assert np.linalg.norm(forward.mean(0)) > 0.9
    assert np.linalg.norm(orbit.mean(0)) < np.linalg.norm(forward.mean(0))


def test_cameras_vary_like_phones():
    rng = np.random.default_rng(0)
    samples = [photo_world.sample_intrinsics(rng, 128) for _ in range(200)]
    shapes = {(h, w) for _, h, w in samples}
    assert any(h > w for h, w in shapes) and any(w > h for h, w in shapes) and any(w == h for h, w in shapes)
    assert all(max(h, w) == 128 for h, w in shapes)
    fov = np.array([np.rad2deg(2 * np.arctan(64 / k[0])) for k, _, _ in samples])
    assert fov.min() >= 40 and fov.max() <= 90 and fov.max() - fov.min() > 30
    offset = np.array([[k[2] / w - 0.5, k[3] / h - 0.5] for k, h, w in samples])
    assert np.abs(offset).max() <= photo_world.PRINCIPAL_JITTER + 1e-9 and np.abs(offset).mean() > 0.003


def test_depth_reprojects_to_the_same_colour_where_visible(capture):
    """A pixel of view A unprojected at its depth lands, in view B, on a pixel of the same colour
    wherever B sees that point (same depth); pairing with a shuffled image is far worse."""
    views, depth = capture.views, capture.depth
    height, width = views.size
    y, x = np.mgrid[0:height, 0:width]
    agree, shuffled = [], []
    for a, b in [(0, 1), (3, 4), (6, 8)]:
        fx, fy, cx, cy = views.intrinsics[a]
        z = depth[a]
        cam = np.stack([(x + 0.5 - cx) / fx * z, (y + 0.5 - cy) / fy * z, z], -1)
        world = cam @ views.c2w[a, :3, :3].T + views.c2w[a, :3, 3]
        u, v, zb = project(world, views.c2w[b], views.intrinsics[b])
        ui, vi = np.floor(u).astype(int), np.floor(v).astype(int)
        inside = (zb > 0) & (ui >= 1) & (ui < width - 1) & (vi >= 1) & (vi < height - 1)
        seen = inside.copy()
        seen[inside] = np.abs(depth[b][vi[inside], ui[inside]] - zb[inside]) < 0.01 * zb[inside]
        assert seen.mean() > 0.2
        mine = views.images[a][seen].astype(int)
        agree.append(np.abs(mine - views.images[b][vi[seen], ui[seen]]).mean())
        shuffled.append(np.abs(mine - views.images[b][vi[seen][::-1], ui[seen][::-1]]).mean())
    assert np.mean(agree) < 14 and np.mean(agree) < 0.5 * np.mean(shuffled)


def test_sparse_points_are_seen_by_two_views(capture):
    views, depth = capture.views, capture.depth
    height, width = views.size
    u, v, z = project(views.points[:, None], views.c2w[None], views.intrinsics[None])
    inside = (z > 0) & (u >= 0) & (u < width) & (v >= 0) & (v < height)
    ui, vi = np.clip(u.astype(int), 0, width - 1), np.clip(v.astype(int), 0, height - 1)
    on_surface = inside & (np.abs(depth[np.arange(len(views))[None], vi, ui] - z) < 0.05 * z)
    assert (on_surface.sum(1) >= 2).mean() > 0.9
    assert inside[capture.visibility].mean() > 0.99  # the tracks; noise may push a point just off the edge


def test_ray_caster_depth_is_exact_for_a_sphere_and_a_box():
    room = [pr.ROOM_BOX, 0, 0, 5, *np.eye(3).ravel(), 10, 10, 5]
    sphere = [pr.SPHERE, 0, 0, 1, *np.eye(3).ravel(), 0.5, 0.5, 0.5]
    box = [pr.BOX, 0, 2, 1, *np.eye(3).ravel(), 0.3, 0.3, 0.3]
    material = [[0, 100, 100, 0, 0, 1, 1, 1, 0]]
    light = np.array([0, 0, 0, 1, 1, 1, 1, 0.3, 0.3, 0.3, 0.1, 0.1, 0.1, 1])
    bank = texture_bank()
    eye = np.array([[4.0, 0.0, 1.0], [0.0, 6.0, 1.0]])
    c2w = camera.look_at(eye, [[0, 0, 1], [0, 2, 1]])
    intrinsics = np.tile(camera.intrinsics_from_fov(33, 33, 40.0), (2, 1))
    images, depth = pr.render(np.array([room, sphere, box], float), np.zeros((3, 6), np.int64), np.array(material, float),
                              np.zeros((0, 5)), light, bank.texels, bank.offsets, c2w, intrinsics, np.ones((2, 3)),
                              0.0, 0.0, 0, 33, 33)
    assert depth[0, 16, 16] == pytest.approx(4.0 - 0.5, abs=1e-3)
    assert depth[1, 16, 16] == pytest.approx(4.0 - 0.3, abs=1e-3)
    assert depth[0, 0, 0] > 5 and images.dtype == np.uint8


def test_textures_come_from_the_installed_package():
    assert all((skimage_data_folder() / name).is_file() for name in PHOTOS)
    bank = texture_bank()
    assert bank.level(0).shape[1:] == (256, 256, 3) and bank.level(6).shape[1:] == (4, 4, 3)
    assert bank.count == sum(len(ids) for ids in bank.families.values())


def test_a_capture_written_to_disk_reads_back_with_its_points(tmp_path, capture):
    out = photo_world.write_capture(capture, tmp_path / "capture")
    views = load_views(out)
    assert views.meta["format"] == "colmap-text"
    assert np.array_equal(views.images, capture.views.images)
    assert np.allclose(views.c2w, capture.views.c2w, atol=1e-9) and np.allclose(views.intrinsics, capture.views.intrinsics)
    assert np.allclose(views.points, capture.views.points, atol=1e-5) and np.array_equal(views.point_colors,
                                                                                         capture.views.point_colors)
    assert json.loads((out / "capture.json").read_text())["seed"] == 5
    assert np.array_equal(np.load(out / "depth.npy"), capture.depth)


def test_cli_writes_a_photo_world_dataset_and_a_capture(tmp_path, capsys):
    assert gqn.cli.main(["scenes", "--kind", "photo-world", "--scenes", "2", "--views", "3", "--size", "32",
                         "--out", str(tmp_path / "data"), "--json"]) == 0
    dataset = SceneDataset(tmp_path / "data")
    assert dataset.images.shape == (2, 3, 32, 32, 3) and dataset.meta["kind"] == "photo-world"
    again = photo_world.render_capture(dataset.scene(1).meta["seed"], 3, 32, aspect="square",
                                       points=dataset.meta["points"]).views
    assert np.array_equal(dataset.images[1], again.images)
    # What training samples at: each capture's exact depth range, and its sparse points (NaN rows pad them).
    assert np.allclose(dataset.depth_range[1], [again.meta["near"], again.meta["far"]])
    stored = dataset.points[1][np.isfinite(dataset.points[1]).all(1)]
    assert 0 < len(stored) <= dataset.meta["points"] and np.allclose(stored, again.points[:len(stored)])
    ranges = np.load(tmp_path / "data" / "depth_range.npy")
    ranges[0] = [2.0, 1.0]                                   # far before near: refused with the file's name
    np.save(tmp_path / "data" / "depth_range.npy", ranges)
    with pytest.raises(GQNError, match="depth_range.npy: scene 0"):
        SceneDataset(tmp_path / "data")
    assert gqn.cli.main(["scenes", "capture", "--seed", "2", "--views", "20", "--size", "40", "--aspect", "portrait",
                         "--fov", "70", "--out", str(tmp_path / "cap")]) == 0
    views = load_views(tmp_path / "cap")
    assert views.size == (40, 30) and len(views) == 20 and len(views.points) > 0
    assert np.rad2deg(2 * np.arctan(20 / views.intrinsics[0, 1])) == pytest.approx(70.0)  # across the long side
