"""The photo model's learned plane sweep (gqn.nn.sweep) and how it trains."""

import dataclasses

import numpy as np
import pytest
import torch

from gqn import GQN, camera
from gqn.config import preset
from gqn.data.normalize import similarity_matrix, transform_poses
from gqn.nn.epipolar import query_rays
from gqn.train import BatchSampler


def tiny_sweep():
    return dataclasses.replace(preset("tiny"), representation="sweep", image_size=32, epipolar_samples=8,
                               epipolar_channels=4, tower_channels=8)


def capture_batch(b=2, k=3, size=32, seed=0):
    """Contexts on an arc around the origin, the query between them, looking at the origin."""
    rng = np.random.default_rng(seed)
    angles = np.linspace(-0.6, 0.6, k + 1)
    eyes = np.stack([np.stack([3 * np.cos(angles), 3 * np.sin(angles), 0.5 + 0.1 * rng.normal(size=k + 1)], -1)
                     for _ in range(b)])
    c2w = torch.as_tensor(camera.look_at(eyes), dtype=torch.float32)
    intrinsics = torch.tensor([1.0, 1.0, 0.5, 0.5]).expand(b, k + 1, 4)
    images = torch.rand(b, k + 1, 3, size, size, generator=torch.Generator().manual_seed(seed))
    depth_range = torch.tensor([[1.5, 5.0]]).expand(b, 2)
    order = [0, 2, 3, 1]   # the query (view 1) sits between contexts
    return images[:, order[:k]], c2w[:, order[:k]], intrinsics[:, :k], images[:, 1], c2w[:, 1], intrinsics[:, 1], depth_range


def test_the_untrained_photo_model_shows_exactly_what_the_sweep_blends():
    """The generator's head starts at zero: the first image is the sweep's colour, which training then corrects."""
    torch.manual_seed(0)
    model = GQN(tiny_sweep()).eval()
    images, c2w, intr, _, q, qi, depth_range = capture_batch()
    with torch.no_grad():
        context = model.encode(images, c2w, intr, depth_range)
        cond, skip = model.condition(context, q, qi, model.grid((32, 32)))
        drawn = model.sample(cond, skip, samples=2)
    assert drawn.shape == (2, 2, 3, 32, 32)
    assert torch.allclose(drawn[:, 0], skip[:, :3].clamp(1e-3, 1 - 1e-3), atol=1e-5)
    assert skip[:, :3].std() > 0.01           # not a constant: colours from the contexts


def test_where_no_photo_sees_the_query_it_starts_from_the_nearest_photo():
    """As the plane-sweep baseline falls back to the nearest photo, not to a made-up grey."""
    torch.manual_seed(0)
    model = GQN(tiny_sweep()).eval()
    _, c2w, intr, _, _, qi, depth_range = capture_batch()
    colours = torch.tensor([[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.2, 0.3, 0.7]])
    images = colours[None, :, :, None, None].expand(2, 3, 3, 32, 32).contiguous()
    away = c2w[:, 1].clone()   # at the second context's camera, turned round to look out of the capture
    away[:, :3, :3] = away[:, :3, :3] @ torch.diag(torch.tensor([-1.0, 1.0, -1.0]))
    with torch.no_grad():
        _, skip = model.condition(model.encode(images, c2w, intr, depth_range), away, qi, model.grid((32, 32)))
    assert torch.allclose(skip[:, :3], colours[1][None, :, None, None].expand(2, 3, 32, 32), atol=1e-5)


def scattered_points(b=2, m=200, seed=0):
    """Sparse points around the origin, where the contexts look; one scene's last rows NaN (none)."""
    points = torch.randn(b, m, 3, generator=torch.Generator().manual_seed(seed)) * 0.6
    points[-1, m // 2:] = float("nan")
    return points


def test_every_parameter_learns_once_training_has_moved_the_head():
    torch.manual_seed(0)
    model = GQN(dataclasses.replace(tiny_sweep(), point_candidates=2, trust_gate=True))
    images, c2w, intr, target, q, qi, depth_range = capture_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):   # the head moves at the first step, the trust gate's last layer at the second
        optimizer.zero_grad()
        out = model(images, c2w, intr, target, q, qi, 0.5, None, depth_range, scattered_points())
        assert torch.isfinite(out["loss"])
        out["loss"].backward()
        optimizer.step()
    unused = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    # The first inference core only ever sees zero states at its single step.
    assert unused == []


def gated_model_and_condition(seed=0):
    """A tiny sweep model with a head that paints a real correction and a trust gate that varies."""
    torch.manual_seed(seed)
    model = GQN(dataclasses.replace(tiny_sweep(), trust_gate=True)).eval()
    torch.nn.init.normal_(model.generator.head.weight, std=0.3)
    torch.nn.init.normal_(model.generator.trust[-1].weight, std=0.3)
    images, c2w, intr, target, q, qi, depth_range = capture_batch(seed=seed)
    with torch.no_grad():
        cond, skip = model.condition(model.encode(images, c2w, intr, depth_range), q, qi, model.grid((32, 32)))
    return model, cond, skip, target


def test_the_trust_gate_learns_from_the_mean_of_prior_samples_and_nothing_else_does():
    model, cond, skip, target = gated_model_and_condition()
    gate = {name for name, _ in model.named_parameters() if name.startswith("generator.trust.")}
    model.generator.trust_nll(cond, target, 0.5, skip.requires_grad_()).sum().backward()
    moved = {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert moved == gate and skip.grad is None
    model.zero_grad()
    nll, kl, _ = model.generator.elbo(cond, target, 0.5, skip=skip.detach())
    (nll + kl).sum().backward()
    assert all(p.grad is None for name, p in model.named_parameters() if name in gate)


@pytest.mark.parametrize("gate_logit, shows", [(-50.0, "colour"), (50.0, "generator")])
def test_a_closed_trust_gate_shows_the_sweeps_colour_and_an_open_one_the_generators(gate_logit, shows):
    model, cond, skip, _ = gated_model_and_condition()
    torch.nn.init.zeros_(model.generator.trust[-1].weight)
    torch.nn.init.constant_(model.generator.trust[-1].bias, gate_logit)
    gated = model.sample(cond, skip, generator=torch.Generator().manual_seed(1))[:, 0]
    generator = model.generator
    ungated = generator._image(generator._prior_canvas(cond, torch.Generator().manual_seed(1)), skip, trusted=False)
    colour = skip[:, :3].clamp(1e-3, 1 - 1e-3)
    assert torch.allclose(gated, colour if shows == "colour" else ungated, atol=1e-5)
    assert (ungated - colour).abs().max() > 0.05      # the head does paint a correction


def test_an_untrained_sweep_takes_the_point_depths_where_the_photos_agree():
    """The choice among depth candidates starts as the classical one: with the capture's sparse points an
    untrained model (random features, so a poor sweep; the generator's head at zero) paints held-out
    photos far better than without them."""
    from gqn.evaluate_capture import evaluate_capture
    from gqn.scenes import photo_world
    torch.manual_seed(0)
    model = GQN(dataclasses.replace(tiny_sweep(), image_size=48, point_candidates=4)).eval()
    views = photo_world.render_capture(5, views=20, size=48, points=1000).views
    with_points = evaluate_capture(model, views, every=5, start=2, long_side=48, samples=1)[0]
    views.points = None
    without = evaluate_capture(model, views, every=5, start=2, long_side=48, samples=1)[0]
    assert with_points["psnr_mean"] > without["psnr_mean"] + 1.0, (with_points, without)


def test_the_sweep_is_the_same_in_any_frame_and_unit():
    """Disparities relative to the near plane, camera distances relative to each other: a capture moved,
    turned and scaled (its depth range with it) renders the same."""
    torch.manual_seed(0)
    model = GQN(tiny_sweep()).eval()
    images, c2w, intr, _, q, qi, depth_range = capture_batch(b=1)
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    transform = similarity_matrix(3.0, rotation, np.array([5.0, -2.0, 1.0]))
    move = lambda poses: torch.as_tensor(transform_poses(transform, poses.double().numpy()), dtype=torch.float32)  # noqa: E731
    with torch.no_grad():
        before = model.sweep(model.encode(images, c2w, intr, depth_range), q, qi, (32, 32))
        after = model.sweep(model.encode(images, move(c2w), intr, depth_range * 3), move(q), qi, (32, 32))
    assert torch.allclose(before, after, atol=2e-4)


class Scenes:
    """A SceneDataset's shape: one scene of 4 views whose pixels tell their own coordinates."""

    def __init__(self, size=32):
        y, x = np.mgrid[0:size, 0:size]
        image = np.stack([x, y, np.zeros_like(x)], -1).astype(np.uint8)
        self.images = np.broadcast_to(image, (1, 4, size, size, 3)).copy()
        angles = np.linspace(-0.5, 0.5, 4)
        self.c2w = camera.look_at(np.stack([3 * np.cos(angles), 3 * np.sin(angles), np.full(4, 0.5)], -1))[None]
        self.intrinsics = np.array([[[40.0, 38.0, 15.0, 17.0]] * 4])
        self.depth_range = np.array([[1.0, 5.0]])
        self.path = "scenes"


@pytest.mark.parametrize("seed", range(4))
def test_a_query_crop_keeps_every_pixel_on_its_own_ray(seed):
    scenes = Scenes()
    config = dataclasses.replace(tiny_sweep(), image_size=32)
    sampler = BatchSampler(scenes, config, max_contexts=3, nearest=True, crop=16)
    batch = sampler.draw(3, torch.Generator().manual_seed(seed))
    full_intrinsics = torch.tensor(scenes.intrinsics[0, 0] / [32, 32, 32, 32], dtype=torch.float32)
    for image, c2w, intrinsics in zip(batch.query_image, batch.query_c2w, batch.query_intrinsics):
        _, full_rays = query_rays(c2w[None], full_intrinsics[None], 32, 32)
        height, width = image.shape[-2:]
        assert max(height, width) == 16 and height % 4 == 0 and width % 4 == 0
        left, top = (image[:2, 0, 0] * 255).round().long().tolist()      # the crop's first pixel names its place
        _, rays = query_rays(c2w[None], intrinsics[None], height, width)
        expected = full_rays[0].reshape(32, 32, 3)[top:top + height, left:left + width]
        assert torch.allclose(rays[0].reshape(height, width, 3), expected, atol=1e-5)
    assert batch.depth_range.shape == (3, 2)
    near, far = batch.depth_range.unbind(-1)
    assert (near <= 1.0).all() and (near >= 0.5).all() and (far >= 5.0).all() and (far <= 7.5).all()
    assert 1 <= batch.context_images.shape[1] <= 3     # the nearest max_contexts - 2 .. max_contexts views


@pytest.mark.parametrize("seed", range(3))
def test_queries_are_read_context_scale_times_smaller_than_the_contexts(seed):
    """With context_scale 2 a 8-px query window is a 16-px window of the view, downsampled: every query
    pixel looks along the ray through the centre of its 2×2 block, and shows that block's colour."""
    scenes = Scenes()
    config = dataclasses.replace(tiny_sweep(), image_size=32, context_scale=2.0)
    sampler = BatchSampler(scenes, config, max_contexts=3, nearest=True, crop=8)
    batch = sampler.draw(3, torch.Generator().manual_seed(seed))
    assert batch.context_images.shape[-2:] == (32, 32)                   # never upsampled beyond the data
    full_intrinsics = torch.tensor(scenes.intrinsics[0, 0] / [32, 32, 32, 32], dtype=torch.float32)
    for image, c2w, intrinsics in zip(batch.query_image, batch.query_c2w, batch.query_intrinsics):
        height, width = image.shape[-2:]
        assert max(height, width) == 8
        left, top = (image[:2, 2, 2] * 255 - 4.5).round().long().tolist()   # pixel (2, 2) is block (4..5, 4..5)
        assert image[0, 2, 2] * 255 == pytest.approx(left + 4.5, abs=0.05)
        _, full_rays = query_rays(c2w[None], full_intrinsics[None], 32, 32)
        blocks = full_rays[0].reshape(32, 32, 3)[top:top + 2 * height, left:left + 2 * width]
        expected = blocks.reshape(height, 2, width, 2, 3).mean((1, 3))
        _, rays = query_rays(c2w[None], intrinsics[None], height, width)
        assert torch.allclose(rays[0].reshape(height, width, 3), expected, atol=1e-5)


def test_a_capture_is_encoded_at_context_scale_times_the_model_resolution():
    from gqn.data.viewset import ViewSet
    model = GQN(dataclasses.replace(tiny_sweep(), context_scale=1.5)).eval()
    images, c2w, *_ = capture_batch(b=1, k=3, size=96)
    views = ViewSet((images[0].permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8),
                    c2w[0].double().numpy(), intrinsics=np.tile([96.0, 96.0, 48.0, 48.0], (3, 1)))
    assert model.config.context_side == 48
    assert tuple(model.encode_views(views).images.shape[-2:]) == (48, 48)


def test_a_sparse_point_is_evidence_for_its_depth_near_its_pixel_only():
    from gqn.nn.sweep import point_evidence
    c2w = torch.as_tensor(camera.look_at(np.array([[4.0, 0.0, 0.0]])), dtype=torch.float32)   # looks down -x
    intrinsics = torch.tensor([[1.0, 1.0, 0.5, 0.5]])
    disparity = torch.linspace(1 / 1.0, 1 / 8.0, 8)[None]
    depth = 1 / disparity[0, 5].item()
    point = torch.tensor([[[4.0 - depth, 0.0, 0.0], [float("nan")] * 3]])    # on the optical axis; a NaN row is no point
    evidence = point_evidence(point, c2w, intrinsics, disparity, 32, 32).reshape(1, 2, 32, 32, 8)
    centre = evidence[0, :, 16, 16]
    assert centre[0].argmax() == 5 and centre[0].sum() == pytest.approx(1.0)
    assert centre[1, 0] == pytest.approx(np.log(1 + 2.0))      # one point, counted with its half-weight neighbours
    assert evidence[0, :, 2, 2].abs().sum() == 0               # far from the point: nothing
    assert point_evidence(None, c2w, intrinsics, disparity, 32, 32).abs().sum() == 0
