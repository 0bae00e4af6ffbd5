"""Into model space: centre, up, scale and depth range from the capture alone."""

import numpy as np
import pytest

from gqn import ViewSet, camera
from gqn.data.normalize import (alignment_errors, scene_centre, scene_frame, similarity_matrix, transform_poses,
                                transform_views, umeyama)
from gqn.errors import GQNError


def random_similarity(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rotation = camera.qvec_to_rotmat(rng.normal(size=4))
    return similarity_matrix(rng.uniform(0.2, 5.0), rotation, rng.normal(scale=10, size=3))


def orbit_views(n: int = 12, radius: float = 2.0, size: tuple[int, int] = (48, 64)) -> ViewSet:
    c2w = camera.orbit_path(n, radius, elevation_deg=25.0)
    c2w[::2] = camera.orbit_path(n, radius, elevation_deg=40.0)[::2]
    height, width = size
    images = np.random.default_rng(0).integers(0, 256, (n, height, width, 3), dtype=np.uint8)
    return ViewSet(images, c2w, np.tile(camera.intrinsics_from_fov(width, height, 60.0), (n, 1)))


def test_umeyama_recovers_a_similarity():
    points = np.random.default_rng(1).normal(size=(20, 3))
    transform = random_similarity(2)
    moved = points @ transform[:3, :3].T + transform[:3, 3]
    np.testing.assert_allclose(umeyama(points, moved), transform, atol=1e-9)


def test_alignment_errors_ignore_a_similarity_and_see_real_errors():
    truth = orbit_views().c2w
    moved = transform_views(orbit_views(), random_similarity(7)).c2w
    errors = alignment_errors(moved, truth)
    assert errors["rotation_error_deg_max"] < 1e-5 and errors["position_error_max"] < 1e-9
    moved[0, :3, :3] = moved[0, :3, :3] @ camera.qvec_to_rotmat([np.cos(0.01), np.sin(0.01), 0, 0])  # turn 1.146°
    np.testing.assert_allclose(alignment_errors(moved, truth)["rotation_error_deg_max"], np.rad2deg(0.02), atol=1e-9)


def test_transform_views_keeps_poses_rigid_and_points_with_them():
    views = orbit_views()
    views.points = np.random.default_rng(3).normal(size=(10, 3)).astype(np.float32)
    transform = random_similarity(4)
    moved = transform_views(views, transform)
    assert camera.valid_poses(moved.c2w).all()
    # A point projects to the same pixel before and after: the whole scene moved together.
    uv, _ = camera.project(views.points[0].astype(np.float64), views.c2w[3], views.intrinsics[3])
    uv2, _ = camera.project(moved.points[0].astype(np.float64), moved.c2w[3], moved.intrinsics[3])
    np.testing.assert_allclose(uv, uv2, atol=1e-3)


def test_scene_frame_undoes_an_arbitrary_similarity():
    views = orbit_views(radius=2.0)
    scrambled = transform_views(views, random_similarity(5))
    frame = scene_frame(scrambled, radius=3.0)
    normalised = transform_views(scrambled, frame.transform)
    assert frame.centre_method == "optical-axes" and frame.depth_method == "layout"
    np.testing.assert_allclose(np.linalg.norm(normalised.positions, axis=-1).mean(), 3.0)
    # The orbit centre lands on the origin and the world is upright again: the poses are the original
    # orbit scaled by 1.5, up to a turn about z.
    expected = views.positions * 1.5
    turn = umeyama(expected, normalised.positions)
    np.testing.assert_allclose(turn[:3, :3] @ [0, 0, 1.0], [0, 0, 1.0], atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(turn[:3, :3]), 1.0, atol=1e-9)
    np.testing.assert_allclose(turn[:3, 3], 0.0, atol=1e-9)
    np.testing.assert_allclose(-normalised.c2w[:, :3, 1].mean(0)[:2], 0.0, atol=1e-9)
    for pose in normalised.c2w:    # every camera still looks at the centre
        uv, depth = camera.project(np.zeros(3), pose, normalised.intrinsics[0])
        np.testing.assert_allclose(uv, [32.0, 24.0], atol=1e-6)
    np.testing.assert_allclose(frame.poses(scrambled.c2w), normalised.c2w, atol=1e-12)
    # The depth range is the same scene's whatever its frame: it scales with the units.
    again = scene_frame(views, radius=3.0)
    np.testing.assert_allclose([again.near, again.far], [frame.near, frame.far], rtol=1e-9)
    assert 0 < frame.near < 3.0 < frame.far


def test_transform_poses_keeps_poses_rigid():
    transform = random_similarity(9)
    moved = transform_poses(transform, camera.look_at(np.array([4.0, 0.0, 1.0])))
    assert camera.valid_poses(moved[None])[0]
    np.testing.assert_allclose(moved[:3, 3], transform[:3, :3] @ [4.0, 0.0, 1.0] + transform[:3, 3])


def test_depth_range_comes_from_the_region_then_points_then_recorded_bounds():
    views = orbit_views(radius=4.0)
    views.meta["depth_range"] = [2.0, 7.0]
    recorded = scene_frame(views)
    assert recorded.depth_method == "recorded"
    np.testing.assert_allclose([recorded.near, recorded.far], np.array([2.0, 7.0]) / 4.0)
    views.points = np.random.default_rng(2).uniform(-0.5, 0.5, (500, 3)).astype(np.float32)
    from_points = scene_frame(views)
    assert from_points.depth_method == "points" and 3.0 / 4 < from_points.far < 1.4 * 4.5 / 4
    views.meta["region"] = {"min": [-1, -1, -1], "max": [1, 1, 1]}
    boxed = scene_frame(views)
    assert boxed.depth_method == "region" and boxed.centre_method == "region"
    views.meta["region"] = {"min": [1, 1, 1], "max": [0, 0, 0]}
    with pytest.raises(GQNError, match="region"):
        scene_frame(views)


def test_parallel_axes_fall_back_to_points_or_a_point_ahead():
    c2w = np.tile(np.eye(4), (4, 1, 1))
    c2w[:, :3, 3] = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]]  # a forward-facing rig, axes all along +z
    centre, method = scene_centre(c2w)                         # ahead of the rig, twice its spread
    assert method == "ahead"
    np.testing.assert_allclose(centre, [0.5, 0.5, 2 * np.sqrt(2)])
    centre, method = scene_centre(c2w, depth_range=(2.0, 8.0))  # at the recorded depths' middle
    np.testing.assert_allclose(centre, [0.5, 0.5, 4.0])
    points = np.random.default_rng(6).uniform([-1, -1, 4], [2, 2, 6], (200, 3))
    centre, method = scene_centre(c2w, points)
    assert method == "points" and 4.5 < centre[2] < 5.5


def test_axes_meeting_behind_the_cameras_are_not_a_centre():
    c2w = camera.orbit_path(8, 2.0, elevation_deg=0.0)
    c2w[:, :3, 1:3] *= -1  # every camera turned around: looking away from the middle
    _, method = scene_centre(c2w)
    assert method == "camera-centroid"
