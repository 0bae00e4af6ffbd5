"""Representation networks: each context view (image, camera) -> a feature map; the scene is their sum."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from gqn.config import ModelConfig

VIEWPOINT_DIM = 7


def viewpoint(c2w: torch.Tensor) -> torch.Tensor:
    """The paper's v = (x, y, z, cos yaw, sin yaw, cos pitch, sin pitch) from OpenCV c2w [...,4,4].

    Same quantities as gqn.camera.viewpoint_vector, computed in torch without trigonometry
    (cos pitch is the horizontal length of the unit viewing direction).
    """
    forward = F.normalize(c2w[..., :3, 2], dim=-1)
    horizontal = forward[..., :2].norm(dim=-1, keepdim=True)
    yaw = forward[..., :2] / horizontal.clamp_min(1e-8)
    return torch.cat([c2w[..., :3, 3], yaw, horizontal, forward[..., 2:3]], -1)


class ResidualConv(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.relu(self.conv(x))


class Tower(nn.Module):
    """The paper's "tower": strided convs down to the generator's resolution, the viewpoint
    broadcast and joined there, residual convs, then r channels. [N,3,H,W] + [N,7] -> [N,R,H/s,W/s]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        width = config.tower_channels
        layers: list[nn.Module] = []
        in_channels = 3
        for _ in range(int(math.log2(config.r_scale))):
            layers += [nn.Conv2d(in_channels, width, 2, stride=2), nn.ReLU(), ResidualConv(width)]
            in_channels = width
        self.down = nn.Sequential(*layers)
        self.join = nn.Conv2d(in_channels + VIEWPOINT_DIM, width, 3, padding=1)
        self.mix = ResidualConv(width)
        self.out = nn.Conv2d(width, config.r_channels, 1)

    def forward(self, images: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        x = self.down(images)
        v_map = v[:, :, None, None].to(x.dtype).expand(-1, -1, *x.shape[-2:])
        x = F.relu(self.join(torch.cat([x, v_map], 1)))
        return self.out(self.mix(x))


class Pool(Tower):
    """Tower followed by a global average pool: r is one vector per view, [N,R,1,1]."""

    def forward(self, images: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return super().forward(images, v).mean(dim=(2, 3), keepdim=True)
