"""Depth candidates from sparse points (gqn.nn.points), shared by the sparse-depth baseline and the sweep."""

import math

import numpy as np
import torch

from gqn import camera
from gqn.nn.points import nearest_point_depths

INTRINSICS = torch.tensor([[1.0, 1.0, 0.5, 0.5]])


def looking_down_minus_x():
    return torch.as_tensor(camera.look_at(np.array([[4.0, 0.0, 0.0]])), dtype=torch.float32)


def test_each_pixel_gets_the_depths_of_its_nearest_visible_points_nearest_first():
    c2w = looking_down_minus_x()
    side = np.linspace(-1.4, 1.4, 16)
    plane = [[1.0, y, z] for y in side for z in side]                 # depth 3, filling the view
    points = torch.tensor([plane + [[-2.0, 0.0, 0.0],                 # depth 6 behind the plane: hidden
                                    [math.nan] * 3]])                 # a NaN row is no point
    depth, distance, spacing = nearest_point_depths(points, c2w, INTRINSICS, 32, 32, 3)
    assert torch.allclose(depth, torch.tensor(3.0))
    assert torch.all(distance[..., 0] <= distance[..., 1]) and torch.all(distance[..., 1] <= distance[..., 2])
    assert distance[..., 0].max() < 2.0                               # points 1.9 pixels apart: one is always near
    assert spacing[0] == torch.tensor(math.sqrt(32 * 32 / 257))       # all but the NaN row project inside


def test_no_points_in_view_give_no_candidates():
    c2w = looking_down_minus_x()
    behind = torch.tensor([[[6.0, 0.0, 0.0]]])
    depth, distance, spacing = nearest_point_depths(behind, c2w, INTRINSICS, 8, 8, 2)
    assert torch.isnan(depth).all() and torch.isinf(distance).all() and torch.isinf(spacing).all()
