"""Round trips for every pose convention in gqn.camera, and the geometry the rest of the project assumes."""

import numpy as np
import pytest

from gqn import camera


def random_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=(n, 4))
    return camera.qvec_to_rotmat(q)


def random_poses(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c2w = np.tile(np.eye(4), (n, 1, 1))
    c2w[:, :3, :3] = random_rotations(n, rng)
    c2w[:, :3, 3] = rng.normal(scale=3.0, size=(n, 3))
    return c2w


def assert_rotation(rot: np.ndarray) -> None:
    np.testing.assert_allclose(np.swapaxes(rot, -1, -2) @ rot, np.broadcast_to(np.eye(3), rot.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-9)


def test_opengl_opencv_round_trip_and_axes():
    c2w = random_poses(20)
    gl = camera.opencv_to_opengl(c2w)
    np.testing.assert_allclose(camera.opengl_to_opencv(gl), c2w, atol=1e-12)
    # Same camera centre; OpenGL looks down its -z, which is OpenCV's +z; y flips (up vs down).
    np.testing.assert_allclose(gl[:, :3, 3], c2w[:, :3, 3])
    np.testing.assert_allclose(-gl[:, :3, 2], c2w[:, :3, 2])
    np.testing.assert_allclose(-gl[:, :3, 1], c2w[:, :3, 1])
    np.testing.assert_allclose(gl[:, :3, 0], c2w[:, :3, 0])


def test_opengl_accepts_3x4():
    c2w = random_poses(3)
    np.testing.assert_allclose(camera.opengl_to_opencv(camera.opencv_to_opengl(c2w)[:, :3, :]), c2w, atol=1e-12)


def test_quaternion_round_trip_covers_every_shepperd_branch():
    rng = np.random.default_rng(1)
    rots = list(random_rotations(200, rng))
    # Rotations by ~180° about each axis drive the trace negative: every branch of Shepperd's method.
    for axis in np.eye(3):
        angle = np.pi - 1e-3
        k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        rots.append(np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k)
    rots = np.array(rots)
    q = camera.rotmat_to_qvec(rots)
    assert np.all(q[:, 0] >= 0)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(camera.qvec_to_rotmat(q), rots, atol=1e-10)
    assert camera.rotmat_to_qvec(rots[0]).shape == (4,)
    nearly = rots[:10] + np.random.default_rng(9).normal(scale=1e-5, size=(10, 3, 3))  # float32 files, rounding
    np.testing.assert_allclose(np.linalg.norm(camera.rotmat_to_qvec(nearly), axis=-1), 1.0, atol=1e-12)


def test_colmap_round_trip_and_projection_agree():
    c2w = random_poses(10, seed=2)
    qvec, tvec = camera.c2w_to_colmap(c2w)
    np.testing.assert_allclose(camera.colmap_to_c2w(qvec, tvec), c2w, atol=1e-10)
    # COLMAP's own definition: x_cam = R(q) x_world + t.
    point = np.array([0.3, -1.2, 2.0])
    x_cam = camera.qvec_to_rotmat(qvec) @ point + tvec
    np.testing.assert_allclose(x_cam, np.einsum("nji,nj->ni", c2w[:, :3, :3], point - c2w[:, :3, 3]), atol=1e-10)


def test_llff_round_trip_and_axes():
    c2w = random_poses(6, seed=3)
    hwf = np.tile([480.0, 640.0, 500.0], (6, 1))
    poses = camera.c2w_to_llff(c2w, hwf)
    assert poses.shape == (6, 3, 5)
    back, back_hwf = camera.llff_to_c2w(poses)
    np.testing.assert_allclose(back, c2w, atol=1e-12)
    np.testing.assert_allclose(back_hwf, hwf)
    # LLFF columns are [down, right, back]: down = OpenCV y, right = OpenCV x, back = -OpenCV z.
    np.testing.assert_allclose(poses[:, :, 0], c2w[:, :3, 1])
    np.testing.assert_allclose(poses[:, :, 1], c2w[:, :3, 0])
    np.testing.assert_allclose(poses[:, :, 2], -c2w[:, :3, 2])


def test_gqn_camera_round_trip():
    rng = np.random.default_rng(4)
    cams = np.concatenate([rng.normal(size=(50, 3)), rng.uniform(-np.pi + 0.01, np.pi - 0.01, (50, 1)),
                           rng.uniform(-1.5, 1.5, (50, 1))], -1)
    c2w = camera.gqn_camera_to_c2w(cams)
    assert_rotation(c2w[:, :3, :3])
    np.testing.assert_allclose(camera.c2w_to_gqn_camera(c2w), cams, atol=1e-10)
    # No roll: the camera's x axis stays horizontal and its y axis points down-ish (z-up world).
    np.testing.assert_allclose(c2w[:, 2, 0], 0.0, atol=1e-12)
    assert np.all(c2w[:, 2, 1] <= 1e-12)


def test_gqn_camera_yaw_pitch_meaning():
    # yaw 90°: looking along +y; pitch 30° up.
    c2w = camera.gqn_camera_to_c2w([1.0, 2.0, 3.0, np.pi / 2, np.pi / 6])
    np.testing.assert_allclose(c2w[:3, 2], [0.0, np.cos(np.pi / 6), np.sin(np.pi / 6)], atol=1e-12)
    np.testing.assert_allclose(c2w[:3, 3], [1.0, 2.0, 3.0])


def test_viewpoint_vector():
    cam = np.array([0.5, -1.0, 2.0, 0.7, -0.3])
    v = camera.viewpoint_vector(camera.gqn_camera_to_c2w(cam))
    assert v.dtype == np.float32 and v.shape == (7,)
    expected = [0.5, -1.0, 2.0, np.cos(0.7), np.sin(0.7), np.cos(-0.3), np.sin(-0.3)]
    np.testing.assert_allclose(v, expected, atol=1e-6)
    assert camera.viewpoint_vector(random_poses(5)).shape == (5, 7)


@pytest.mark.parametrize("eye", [[3.0, 1.0, 2.0], [-2.0, -4.0, -1.0], [0.0, 0.0, 5.0], [0.0, 0.0, -5.0],
                                 [1e-3, 0.0, 4.0]])
def test_look_at_really_looks_at_the_target(eye):
    target = np.array([0.5, -0.2, 0.3])
    c2w = camera.look_at(np.array(eye) + target, target)
    assert_rotation(c2w[:3, :3])
    intrinsics = camera.intrinsics_from_fov(640, 480, 60.0)
    uv, depth = camera.project(target, c2w, intrinsics)
    np.testing.assert_allclose(uv, [320.0, 240.0], atol=1e-9)
    assert depth > 0
    np.testing.assert_allclose(depth, np.linalg.norm(eye))


def test_look_at_keeps_the_world_up_on_screen():
    c2w = camera.look_at([4.0, 0.0, 1.0], [0.0, 0.0, 0.0])
    intrinsics = camera.intrinsics_from_fov(64, 64, 45.0)
    (_, v_high), _ = camera.project(np.array([0.0, 0.0, 0.5]), c2w, intrinsics)
    (_, v_low), _ = camera.project(np.array([0.0, 0.0, -0.5]), c2w, intrinsics)
    assert v_high < v_low  # higher in the world = smaller row (image y points down)
    assert abs(c2w[2, 0]) < 1e-12  # no roll


def test_look_at_batched():
    eyes = np.random.default_rng(5).normal(size=(7, 3)) * 3
    c2w = camera.look_at(eyes, [0.0, 0.0, 0.0])
    assert c2w.shape == (7, 4, 4)
    for pose in c2w:
        uv, depth = camera.project(np.zeros(3), pose, [100.0, 100.0, 32.0, 32.0])
        np.testing.assert_allclose(uv, [32.0, 32.0], atol=1e-9)
        assert depth > 0


def test_orbit_path():
    center = np.array([1.0, 2.0, 0.5])
    c2w = camera.orbit_path(12, radius=3.0, elevation_deg=30.0, center=center, start_azimuth_deg=10.0)
    assert c2w.shape == (12, 4, 4)
    offsets = c2w[:, :3, 3] - center
    np.testing.assert_allclose(np.linalg.norm(offsets, axis=-1), 3.0)
    np.testing.assert_allclose(offsets[:, 2], 3.0 * np.sin(np.deg2rad(30.0)))
    azimuth = np.rad2deg(np.arctan2(offsets[:, 1], offsets[:, 0]))
    np.testing.assert_allclose(np.mod(azimuth - 10.0 + 1e-9, 360.0), np.arange(12) * 30.0, atol=1e-6)
    for pose in c2w:
        uv, depth = camera.project(center, pose, [50.0, 50.0, 16.0, 16.0])
        np.testing.assert_allclose(uv, [16.0, 16.0], atol=1e-9)
        assert depth > 0


def test_interpolate_poses_hits_keyframes_and_stays_rigid():
    keys = random_poses(4, seed=6)
    path = camera.interpolate_poses(keys, 3 * 5 + 1)  # every 5th pose falls on a keyframe
    np.testing.assert_allclose(path[::5], keys, atol=1e-9)
    assert_rotation(path[:, :3, :3])
    np.testing.assert_allclose(path[:, 3], np.tile([0, 0, 0, 1.0], (16, 1)))
    # Halfway between two keys: position is the midpoint, rotation is halfway in angle.
    mid = camera.interpolate_poses(keys[:2], 3)[1]
    np.testing.assert_allclose(mid[:3, 3], keys[:2, :3, 3].mean(0), atol=1e-12)

    def angle(a, b):
        return np.arccos(np.clip((np.trace(a.T @ b) - 1) / 2, -1, 1))

    np.testing.assert_allclose(angle(keys[0, :3, :3], mid[:3, :3]), angle(mid[:3, :3], keys[1, :3, :3]), atol=1e-9)
    np.testing.assert_allclose(camera.interpolate_poses(keys[:1], 3), np.repeat(keys[:1], 3, 0))


def test_project_known_point():
    c2w = np.eye(4)
    c2w[:3, 3] = [0.0, 0.0, -2.0]  # camera 2 units behind the origin, looking along +z
    uv, depth = camera.project(np.array([[0.5, -0.25, 0.0], [0.0, 0.0, -4.0]]), c2w, [100.0, 200.0, 50.0, 60.0])
    np.testing.assert_allclose(uv[0], [100.0 * 0.25 + 50.0, 200.0 * -0.125 + 60.0])
    np.testing.assert_allclose(depth, [2.0, -2.0])


def test_intrinsics_and_fov():
    k = camera.intrinsics_from_fov(640, 480, 90.0)
    np.testing.assert_allclose(k, [320.0, 320.0, 320.0, 240.0])
    assert camera.fov_x_deg(k, 640) == pytest.approx(90.0)
    np.testing.assert_allclose(camera.normalise_intrinsics(k, 640, 480), [0.5, 320 / 480, 0.5, 0.5])


def test_valid_poses_rejects_nan_singular_and_reflections():
    good = random_poses(2, seed=7)
    nan = good[0].copy()
    nan[0, 3] = np.nan
    singular = good[0].copy()
    singular[:3, 2] = 0.0
    reflected = good[0] @ np.diag([1.0, 1.0, -1.0, 1.0])
    scaled = good[0].copy()
    scaled[:3, :3] *= 2.0
    bad_row = good[0].copy()
    bad_row[3] = [0.0, 0.0, 1.0, 1.0]
    inf = good[0].copy()
    inf[1, 1] = np.inf
    mask = camera.valid_poses(np.stack([*good, nan, singular, reflected, scaled, bad_row, inf]))
    assert mask.tolist() == [True, True, False, False, False, False, False, False]
