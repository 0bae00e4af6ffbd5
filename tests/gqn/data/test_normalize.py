"""Into model space: centre, up and scale from the cameras alone, the transform kept; crops to the model's FOV."""

import numpy as np
import pytest

from gqn import ViewSet, camera
from gqn.data.normalize import alignment_errors, scene_centre, similarity_matrix, to_model_input, to_model_space, transform_views, umeyama
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


def test_to_model_space_undoes_an_arbitrary_similarity():
    views = orbit_views(radius=2.0)
    scrambled = transform_views(views, random_similarity(5))
    normalised, transform = to_model_space(scrambled, radius=3.0)
    assert normalised.meta["model_space"]["centre_method"] == "optical-axes"
    np.testing.assert_allclose(np.linalg.norm(normalised.positions, axis=-1).mean(), 3.0)
    # The orbit centre lands on the origin and the world is upright again: the poses are the original
    # orbit scaled by 1.5, up to a turn about z.
    expected = views.positions * 1.5
    turn = umeyama(expected, normalised.positions)
    np.testing.assert_allclose(turn[:3, :3] @ [0, 0, 1.0], [0, 0, 1.0], atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(turn[:3, :3]), 1.0, atol=1e-9)
    np.testing.assert_allclose(turn[:3, 3], 0.0, atol=1e-9)
    np.testing.assert_allclose(-normalised.c2w[:, :3, 1].mean(0)[:2], 0.0, atol=1e-9)
    # Every camera still looks at the centre, and the kept transform maps the poses back.
    for pose in normalised.c2w:
        uv, depth = camera.project(np.zeros(3), pose, normalised.intrinsics[0])
        np.testing.assert_allclose(uv, [32.0, 24.0], atol=1e-6)
    back = transform_views(normalised, np.linalg.inv(np.array(normalised.meta["model_space"]["transform"])))
    np.testing.assert_allclose(back.c2w, scrambled.c2w, atol=1e-9)
    again, _ = to_model_space(normalised, radius=1.0)
    back = transform_views(again, np.linalg.inv(np.array(again.meta["model_space"]["transform"])))
    np.testing.assert_allclose(back.c2w, scrambled.c2w, atol=1e-9)


def test_parallel_axes_fall_back_to_points_or_camera_centroid():
    c2w = np.tile(np.eye(4), (4, 1, 1))
    c2w[:, :3, 3] = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]]  # a forward-facing rig, axes all along +z
    centre, method = scene_centre(c2w)
    assert method == "camera-centroid"
    np.testing.assert_allclose(centre, [0.5, 0.5, 0.0])
    points = np.random.default_rng(6).uniform([-1, -1, 4], [2, 2, 6], (200, 3))
    centre, method = scene_centre(c2w, points)
    assert method == "points" and 4.5 < centre[2] < 5.5


def test_axes_meeting_behind_the_cameras_are_not_a_centre():
    c2w = camera.orbit_path(8, 2.0, elevation_deg=0.0)
    c2w[:, :3, 1:3] *= -1  # every camera turned around: looking away from the middle
    _, method = scene_centre(c2w)
    assert method == "camera-centroid"


def test_to_model_input_crops_to_the_models_field_of_view():
    views = orbit_views(size=(48, 64))               # 60° horizontal, ~46.8° vertical
    square = to_model_input(views, 32, fov_deg=40.0)
    assert square.images.shape == (12, 32, 32, 3)
    np.testing.assert_allclose(square.intrinsics, np.tile(camera.intrinsics_from_fov(32, 32, 40.0), (12, 1)), atol=1e-9)
    with pytest.raises(GQNError, match="narrower than the model's 50.0°"):
        to_model_input(views, 32, fov_deg=50.0)      # wider than the photo's 46.8° vertical view
    largest = to_model_input(views, 16)
    assert largest.images.shape == (12, 16, 16, 3)
    np.testing.assert_allclose(camera.fov_x_deg(largest.intrinsics[0], 16), 46.8, atol=0.1)
