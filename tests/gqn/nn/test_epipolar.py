import numpy as np
import torch

from gqn import GQN, camera
from gqn.config import preset
from gqn.nn.epipolar import project_rays, query_rays

SIZE = 64


def pixel_intrinsics(fov=50.0):
    return camera.intrinsics_from_fov(SIZE, SIZE, fov)


def normalised(intr):
    return camera.normalise_intrinsics(intr, SIZE, SIZE)


def test_fundamental_matrix_hand_case():
    # Two cameras 1 unit apart along x, both looking down +y (world z up): a stereo pair.
    a = camera.look_at([0.0, 0.0, 0.0], [0.0, 5.0, 0.0])
    b = camera.look_at([1.0, 0.0, 0.0], [1.0, 5.0, 0.0])
    intr = pixel_intrinsics()
    fmat = camera.fundamental_matrix(a, intr, b, intr)
    point = np.array([0.3, 4.0, 0.7])
    (ua, _), (ub, _) = camera.project(point, a, intr), camera.project(point, b, intr)
    line = fmat @ np.array([*ua, 1.0])
    # Rectified pair: epipolar lines are horizontal, the point keeps its row.
    assert abs(line[0]) < 1e-9 * abs(line[1])
    assert abs(ub[1] - ua[1]) < 1e-9
    assert abs(line @ np.array([*ub, 1.0])) / np.hypot(*line[:2]) < 1e-6


def test_samples_along_a_query_ray_fall_on_its_epipolar_line():
    rng = np.random.default_rng(0)
    intr = pixel_intrinsics()
    for _ in range(5):
        query, context = camera.look_at(rng.normal(size=(2, 3)) * 4 + [0, 0, 1])
        origin, directions = query_rays(torch.tensor(query[None], dtype=torch.float64),
                                        torch.tensor(normalised(intr)[None]), 16, 16)
        depths = torch.linspace(0.5, 20.0, 24, dtype=torch.float64)
        uv, seen = project_rays(origin, directions, depths, torch.tensor(context[None, None]),
                                torch.tensor(normalised(intr)[None, None]))
        points = (origin[:, None, None] + directions[:, :, None] * depths[None, None, :, None])[0].numpy()
        expected, depth = camera.project(points, context, intr)
        visible = seen[0, 0].numpy()
        assert np.allclose(uv[0, 0].numpy()[visible] * SIZE, expected[visible], atol=1e-6)
        assert (depth[visible] > 0).all()
        uv_px = uv[0, 0].numpy() * SIZE                                   # [P,D,2] pixels in the context
        fmat = camera.fundamental_matrix(query, intr, context, intr)
        cells = (np.stack(np.meshgrid(np.arange(16), np.arange(16), indexing="xy"), -1).reshape(-1, 2) + 0.5) * SIZE / 16
        lines = np.concatenate([cells, np.ones((len(cells), 1))], 1) @ fmat.T
        distance = np.abs((lines[:, None, :2] * uv_px).sum(-1) + lines[:, None, 2]) / np.linalg.norm(lines[:, None, :2], axis=-1)
        inside = seen[0, 0].numpy()
        assert inside.any()
        assert distance[inside].max() < 0.5


def test_points_behind_or_outside_a_camera_are_masked():
    c2w = torch.tensor(camera.look_at([0.0, -5.0, 0.0], [0.0, 0.0, 0.0])[None, None])
    intr = torch.tensor(normalised(pixel_intrinsics())[None, None])
    # One ray from the origin along +x; depths 0 (the origin), 50 (far outside the view).
    # A ray from behind the camera along -y; depth 5 puts it behind the camera.
    origins = torch.tensor([[0.0, 0.0, 0.0], [0.0, -5.0, 0.0]], dtype=torch.float64)
    directions = torch.tensor([[[1.0, 0.0, 0.0]], [[0.0, -1.0, 0.0]]], dtype=torch.float64)
    uv, seen = project_rays(origins, directions, torch.tensor([0.0, 50.0, 5.0], dtype=torch.float64),
                            c2w.expand(2, 1, 4, 4), intr.expand(2, 1, 4))
    assert seen[0, 0, 0].tolist() == [True, False, False]
    assert seen[1, 0, 0].tolist() == [False, False, False]
    assert torch.allclose(uv[0, 0, 0, 0], torch.tensor([0.5, 0.5], dtype=torch.float64))
    assert torch.isfinite(uv).all()


def epipolar_batch(context_c2w, query_c2w):
    config = preset("tiny")
    config.representation = "epipolar"
    config.epipolar_channels, config.epipolar_samples = 8, 6
    torch.manual_seed(0)
    model = GQN(config)
    k = len(context_c2w)
    intr = torch.tensor(normalised(pixel_intrinsics()), dtype=torch.float32)
    images = torch.rand(1, k, 3, 32, 32)
    return (model, images, torch.tensor(context_c2w, dtype=torch.float32)[None], intr.expand(1, k, 4),
            torch.rand(1, 3, 32, 32), torch.tensor(query_c2w, dtype=torch.float32)[None], intr[None])


def test_epipolar_model_shapes_gradients_and_order_invariance():
    contexts = camera.look_at(np.random.default_rng(1).normal(size=(3, 3)) * 4)
    model, images, c2w, intr, target, query, qintr = epipolar_batch(contexts, camera.look_at([4.0, 1.0, 2.0]))
    out = model(images, c2w, intr, target, query, qintr, sigma=1.0)
    out["loss"].backward()
    attention = dict(model.epipolar.named_parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in attention.values())
    with torch.no_grad():
        context = model.encode(images, c2w, intr)
        cond, pixels = model.condition(context, query, qintr, (8, 8))
        assert cond.shape == (1, model.config.r_channels + 7 + model.epipolar.out_channels + 4 * 16, 8, 8)
        assert pixels.shape == (1, 4, 32, 32)
        perm = torch.tensor([2, 0, 1])
        shuffled, shuffled_pixels = model.condition(model.encode(images[:, perm], c2w[:, perm], intr[:, perm]), query, qintr, (8, 8))
    assert torch.allclose(cond, shuffled, atol=1e-5)
    assert torch.allclose(pixels, shuffled_pixels, atol=1e-5)


def assert_finite_everywhere(contexts, query):
    model, images, c2w, intr, target, q, qintr = epipolar_batch(contexts, query)
    out = model(images, c2w, intr, target, q, qintr, sigma=1.0)
    out["loss"].backward()
    assert torch.isfinite(out["loss"])
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    with torch.no_grad():
        cond, pixels = model.condition(model.encode(images, c2w, intr), q, qintr, (8, 8))
    assert torch.isfinite(cond).all() and torch.isfinite(pixels).all()


def test_context_camera_at_the_query_position_stays_finite():
    query = camera.look_at([3.0, 0.0, 1.0])
    assert_finite_everywhere(np.stack([query, camera.look_at([0.0, 3.0, 1.0])]), query)


def test_parallel_cameras_stay_finite():
    a = camera.look_at([0.0, 0.0, 0.0], [0.0, 5.0, 0.0])
    b = camera.look_at([1.0, 0.0, 0.0], [1.0, 5.0, 0.0])
    assert_finite_everywhere(a[None], b)


def test_scene_entirely_behind_the_context_camera_stays_finite():
    query = camera.look_at([0.0, -4.0, 0.0], [0.0, 0.0, 0.0])
    behind = camera.look_at([0.0, 4.0, 0.0], [0.0, 9.0, 0.0])   # looks away from everything the query sees
    assert_finite_everywhere(behind[None], query)


def test_a_query_at_a_context_camera_gathers_exactly_that_views_pixels():
    pose = camera.look_at([3.0, 1.0, 1.0])
    model, images, c2w, intr, target, query, qintr = epipolar_batch(pose[None], pose)
    with torch.no_grad():
        _, pixels = model.condition(model.encode(images, c2w, intr), query, qintr, (8, 8))
    assert torch.allclose(pixels[0, :3], images[0, 0], atol=1e-4)
    assert torch.allclose(pixels[0, 3], torch.ones(32, 32), atol=1e-4)
