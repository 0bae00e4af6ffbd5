import numpy as np
import pytest

from gqn import camera
from gqn.scenes import KINDS, Scene, depth_range, make_scene, render_views, sample_cameras, scene_center, scene_from_meta
from gqn.scenes import geometry, rooms
from gqn.scenes.kinds import scene_and_cameras
from gqn.scenes.render import shade


def cube_at(centre, size=1.0):
    return geometry.transform(geometry.unit_mesh("cube"), scale=size, translation=centre)


def test_same_seed_same_pixels_other_seed_other_pixels():
    for kind in KINDS:
        first, again, other = render_views(kind, 7, 3, 32), render_views(kind, 7, 3, 32), render_views(kind, 8, 3, 32)
        assert np.array_equal(first.images, again.images) and np.array_equal(first.c2w, again.c2w)
        assert not np.array_equal(first.images, other.images)
        assert first.meta == {"format": "procedural", "kind": kind, "seed": 7, "size": 32}


def test_near_cube_hides_far_cube_whatever_the_drawing_order():
    red, green = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)
    near, far = cube_at((2.0, 0.0, 0.0)), cube_at((-2.0, 0.0, 0.0), size=3.0)
    c2w = camera.look_at(np.array([[6.0, 0.0, 0.0]]))
    intrinsics = camera.intrinsics_from_fov(32, 32, 45.0)
    for triangles, colours in [((near, far), (red, green)), ((far, near), (green, red))]:
        scene = Scene(np.concatenate(triangles), np.repeat(np.array(colours), 12, axis=0), ambient=1.0)
        image = scene.render(c2w, intrinsics, 32)[0]
        assert tuple(image[16, 16]) == (255, 0, 0)
        # the far cube is larger: it shows around the near one, green and nothing else
        seen = {tuple(p) for p in image.reshape(-1, 3)}
        assert (0, 255, 0) in seen and seen <= {(255, 0, 0), (0, 255, 0), (0, 0, 0)}


def test_pixel_at_projected_cube_centre_has_cube_colour():
    albedo = np.array([0.2, 0.6, 0.8], np.float32)
    centre = np.array([0.7, -0.4, 0.3])
    scene = Scene(cube_at(centre, 0.5), np.tile(albedo, (12, 1)), ambient=1.0, background=(1.0, 1.0, 1.0))
    c2w = camera.look_at(np.array([[3.0, 2.0, 1.5]]), target=(0.0, 0.0, 0.0))  # the cube is off-centre
    intrinsics = camera.intrinsics_from_fov(64, 64, 50.0)
    image = scene.render(c2w, intrinsics, 64)[0]
    (u, v), depth = camera.project(centre, c2w[0], intrinsics)
    assert depth > 0 and abs(u - 32) > 5
    assert np.array_equal(image[int(v), int(u)], np.round(albedo * 255).astype(np.uint8))
    assert tuple(image[0, 0]) == (255, 255, 255)


def test_back_faces_are_culled_and_meshes_face_outwards():
    for shape in geometry.SHAPES:
        triangles = geometry.unit_mesh(shape)
        outward = geometry.face_normals(triangles) * (triangles.mean(axis=1) - triangles.mean(axis=(0, 1)))
        assert (outward.sum(axis=1) > 0).all(), shape
        assert len(triangles) <= 80
    triangle = np.array([[[0.0, -1, -1], [0, 1, -1], [0, 0, 1]]])  # normal +x
    scene = Scene(triangle, [(1.0, 1.0, 1.0)], ambient=1.0)
    intrinsics = camera.intrinsics_from_fov(16, 16, 60.0)
    front, back = (scene.render(camera.look_at(np.array([[x, 0.0, 0.0]])), intrinsics, 16)[0] for x in (3.0, -3.0))
    assert front.max() == 255 and back.max() == 0


def test_lambert_and_ambient():
    triangles = np.array([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0.0, 0, 0], [0, 1, 0], [1, 0, 0]]])  # up, down
    shaded = shade(triangles, np.ones((2, 3)), light_dir=(0.0, 0.0, 1.0), ambient=0.25)
    assert shaded[0].tolist() == [255, 255, 255] and shaded[1].tolist() == [64, 64, 64]


def test_near_plane_clipping_leaves_no_holes_in_a_floor_under_the_camera():
    floor = geometry.quad((-100, -100, 0), (100, -100, 0), (100, 100, 0), (-100, 100, 0))
    scene = Scene(floor, np.ones((2, 3)), ambient=1.0)
    c2w = camera.pose_from_forward(np.array([[3.0, 5.0, 1.0]]), np.array([[1.0, 0.3, -0.05]]))
    image = scene.render(c2w, camera.intrinsics_from_fov(32, 32, 60.0), 32)[0]
    assert (image[17:] == 255).all()  # below the horizon: all floor
    assert (image[:14] == 0).all()  # above: sky


@pytest.mark.parametrize("kind", ["shepard-metzler-5", "shepard-metzler-7"])
def test_shepard_metzler_on_black_centred_in_view(kind):
    for seed in range(4):
        views = render_views(kind, seed, 4, 32)
        assert len(np.unique(views.images.reshape(-1, 3)[:, 0])) > 3
        for image, c2w, intrinsics in zip(views.images, views.c2w, views.intrinsics):
            assert not image[[0, 0, -1, -1], [0, -1, 0, -1]].any()  # corners black
            (u, v), _ = camera.project(np.zeros(3), c2w, intrinsics)
            assert np.allclose([u, v], 16.0)  # the cameras look at the object's centre
            mask = image.any(axis=-1)
            assert 0.05 < mask.mean() < 0.8
            ys, xs = np.nonzero(mask)
            assert xs.min() < 16 < xs.max() and ys.min() < 16 < ys.max()


def test_resolutions_32_and_128_show_the_same_picture():
    scene = make_scene("shepard-metzler-7", 3)
    c2w, _ = sample_cameras("shepard-metzler-7", np.random.default_rng(0), 3, 32)
    small = scene.render(c2w, camera.intrinsics_from_fov(32, 32, 45.0), 32)
    large = scene.render(c2w, camera.intrinsics_from_fov(128, 128, 45.0), 128)
    assert small.shape == (3, 32, 32, 3) and large.shape == (3, 128, 128, 3)
    downsampled = large.reshape(3, 32, 4, 32, 4, 3).astype(float).mean(axis=(2, 4))
    assert np.abs(downsampled - small).mean() < 12
    assert abs(small.any(-1).mean() - large.any(-1).mean()) < 0.04


def test_rooms_see_floor_below_the_horizon_and_stay_inside():
    for kind in ("rooms-ring", "rooms-free"):
        views = render_views(kind, 1, 6, 32)
        sky = np.round(rooms.SKY * 255).astype(np.uint8)
        assert not (views.images[:, 17:] == sky).all(-1).any()
        assert (np.abs(views.positions[:, :2]) < rooms.HALF).all()
        assert (views.positions[:, 2] > 0).all()
    ring = render_views("rooms-ring", 2, 4, 32)
    for c2w, intrinsics in zip(ring.c2w, ring.intrinsics):
        (u, v), _ = camera.project(scene_center("rooms-ring"), c2w, intrinsics)
        assert np.allclose([u, v], 16.0)


@pytest.mark.parametrize("kind", KINDS)
def test_depth_range_holds_everything_a_camera_sees_and_wastes_little_in_front(kind):
    """Epipolar attention samples rays only between near and far: anything seen outside is lost, and
    samples nearer than everything (uniform in disparity, most of them are near) are wasted."""
    near, far = depth_range(kind)
    depths = []
    for seed in range(20):
        scene, c2w, intrinsics = scene_and_cameras(kind, seed, 10, 64)
        for pose, k in zip(c2w, intrinsics):
            uv, z = camera.project(scene.triangles.reshape(-1, 3), pose, k)
            seen = (z > 0) & ((uv >= 0) & (uv < 64)).all(-1)
            depths.append(z[seen])
    depths = np.concatenate(depths)
    assert near <= depths.min() and depths.max() <= far
    assert near >= 0.5 * depths.min()


def test_scene_from_meta_renders_the_exact_ground_truth_anywhere():
    views = render_views("rooms-free", 11, 2, 32)
    scene = scene_from_meta(views.meta)
    assert np.array_equal(scene.render(views.c2w, views.intrinsics, 32), views.images)
    anywhere = camera.look_at(np.array([[1.0, -1.0, 1.2]]), target=(0.0, 0.0, 0.3))
    assert scene.render(anywhere, views.intrinsics[0], 48).shape == (1, 48, 48, 3)
    assert scene_from_meta({"format": "colmap"}) is None
    with pytest.raises(ValueError, match="unknown scene kind"):
        make_scene("teapot", 0)
