"""Where a capture sits in the viewport, without Qt: up, spacing, points, the region box."""

import numpy as np
import pytest

from explorer import capture
from explorer.capture import Region
from explorer.session import Session
from gqn import camera
from gqn.data.normalize import rotation_between
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError


def arc_capture(n=40, tilt_deg=25.0, points=0):
    """Cameras on a 160° arc looking down at the origin (the way people photograph an object),
    the whole capture turned by `tilt_deg` as structure from motion leaves it."""
    azimuth = np.deg2rad(np.linspace(-80, 80, n) - 90)
    eye = camera.spherical_to_position(6.0, azimuth, np.deg2rad(30.0))
    c2w = camera.look_at(eye, np.zeros(3))
    turn = rotation_between(np.array([0.0, 0.0, 1.0]), np.array([np.sin(np.deg2rad(tilt_deg)), 0.0,
                                                                  np.cos(np.deg2rad(tilt_deg))]))
    c2w[:, :3, :] = turn @ c2w[:, :3, :]
    rng = np.random.default_rng(0)
    cloud = (rng.uniform(-1, 1, (points, 3)) * [2, 2, 0.5]) @ turn.T if points else None
    views = ViewSet(np.zeros((n, 8, 8, 3), np.uint8), c2w, points=cloud,
                    point_colors=rng.integers(0, 256, (points, 3), dtype=np.uint8) if points else None)
    return views, turn @ [0.0, 0.0, 1.0]


def test_up_is_found_for_a_tilted_arc_where_the_mean_camera_up_leans():
    views, true_up = arc_capture()
    np.testing.assert_allclose(capture.capture_up(views.c2w), true_up, atol=1e-9)
    mean_up = -views.c2w[:, :3, 1].mean(0)
    assert np.degrees(np.arccos(mean_up @ true_up / np.linalg.norm(mean_up))) > 10  # why not the mean
    level = capture.display_transform(views, np.zeros(3))
    np.testing.assert_allclose(level[:3, :3] @ true_up, [0, 0, 1], atol=1e-9)


def test_procedural_scenes_are_already_level(scene):
    np.testing.assert_array_equal(capture.display_transform(scene, np.zeros(3)), np.eye(4))


def test_frustums_of_a_dense_capture_stay_apart():
    sparse, _ = arc_capture(n=4)
    dense, _ = arc_capture(n=200)
    spacing = capture.camera_spacing(dense.positions)
    size = capture.frustum_size(dense.positions, 6.0)
    assert size < spacing and size == pytest.approx(capture.FRUSTUM_SPACING * spacing)
    assert capture.frustum_size(sparse.positions, 6.0) == pytest.approx(capture.FRUSTUM_RADIUS * 6.0)


def test_points_to_draw_are_capped_finite_and_coloured():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(500, 3)).astype(np.float32)
    points[7] = np.nan
    colors = rng.integers(0, 256, (500, 3), dtype=np.uint8)
    shown, rgba = capture.points_to_draw(points, colors, limit=100)
    assert shown.shape == (100, 3) and rgba.shape == (100, 4) and np.isfinite(shown).all()
    index = [int(np.flatnonzero((points == p).all(-1))[0]) for p in shown[:5]]
    np.testing.assert_allclose(rgba[:5, :3], colors[index] / 255.0, atol=1e-6)
    again, _ = capture.points_to_draw(points, colors, limit=100)
    np.testing.assert_array_equal(shown, again)  # the same subset every time


def test_overview_frames_every_camera():
    views, _ = arc_capture()
    level = views.positions @ capture.display_transform(views, np.zeros(3))[:3, :3].T
    target, distance, azimuth = capture.overview(level, np.zeros(3), 60.0, 4 / 3)
    elevation = np.deg2rad(28)
    eye = target + distance * np.array([np.cos(elevation) * np.cos(np.deg2rad(azimuth)),
                                        np.cos(elevation) * np.sin(np.deg2rad(azimuth)), np.sin(elevation)])
    to_cameras = level - eye
    axis = (target - eye) / np.linalg.norm(target - eye)
    angles = np.degrees(np.arccos(to_cameras @ axis / np.linalg.norm(to_cameras, axis=-1)))
    assert angles.max() < np.degrees(np.arctan(np.tan(np.deg2rad(30)) * 3 / 4))  # the narrower half field of view


def test_region_checks_and_draws():
    region = Region((0, 0, 0), (1, 2, 3))
    assert Region.from_meta(region.to_meta()) == region
    assert region.edges().shape == (24, 3)
    lengths = sorted(np.round(np.linalg.norm(region.edges()[1::2] - region.edges()[::2], axis=-1), 6))
    assert lengths == [1.0] * 4 + [2.0] * 4 + [3.0] * 4
    assert region.contains(np.array([[0.5, 1, 1], [2, 1, 1]])).tolist() == [True, False]
    with pytest.raises(GQNError, match="below its max"):
        Region((0, 0, 0), (1, 0, 1))
    with pytest.raises(GQNError, match="not a region"):
        Region.from_meta({"min": [0, 0]})


def test_default_region_holds_most_points():
    views, _ = arc_capture(points=2000)
    region = capture.default_region(views, np.zeros(3), 6.0)
    assert region.contains(views.points).mean() > 0.97
    plain, _ = arc_capture()
    assert capture.default_region(plain, np.ones(3), 6.0).contains(np.ones(3))


def test_region_key_names_the_capture(tmp_path, scene):
    views = ViewSet(scene.images, scene.c2w, source=str(tmp_path))
    assert capture.region_key(views) == str(tmp_path.resolve())
    assert capture.region_key(scene) is None  # rendered in memory: nothing to remember it by
    dataset = ViewSet(scene.images, scene.c2w, meta={"dataset": str(tmp_path), "scene": 4})
    assert capture.region_key(dataset).endswith("#4")


def test_session_region_is_the_scene_meta_and_a_new_viewset(scene):
    session = Session()
    session.set_views(scene)
    fired = []
    session.events.region.connect(lambda: fired.append(session.region))
    before = session.views
    session.set_region(Region((-1, -1, -1), (1, 1, 1)))
    assert session.views is not before and session.views.images is before.images
    assert session.views.meta["region"] == {"min": [-1.0] * 3, "max": [1.0] * 3}
    assert "region" not in before.meta
    session.set_region(Region((-1, -1, -1), (1, 1, 1)))  # the same: nothing happens
    session.set_region(None)
    assert "region" not in session.views.meta and fired == [Region((-1, -1, -1), (1, 1, 1)), None]
