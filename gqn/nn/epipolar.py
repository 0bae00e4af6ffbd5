"""Epipolar cross-attention (after E-GQN, Tobin et al. 2019): geometry tells the generator where to look.

For every cell of the query's state grid we cast its ray, take D depths along it (uniform in
disparity between epipolar_near and epipolar_far) and project those points into every context view:
they fall on the cell's epipolar line there. Context features are sampled at those points; over the
views that see a point we keep the mean and the variance of its features (a surface point looks the
same from every view, empty space does not), and attention over the D depths picks where along the
ray the surface is. Order invariant in the contexts, O(D) comparisons per cell and view. Each
full-resolution pixel then also gets the context colour at the depth its cell's attention expects:
a sharp copy, where the contexts saw the surface, that the generator's output head can use.

Camera model: pinhole, no distortion, OpenCV axes; intrinsics normalised by the image size (see
gqn.camera), so any field of view, aspect ratio and principal point, and a query grid of any shape.
Depths are spaced in disparity over the scene's own depth range (Context.depth_range, found by
`GQN.predict` from the capture) or, in training, the config's range. Lens distortion is recorded by
the readers, not removed: strongly distorted photos fit worse. Points behind a camera or outside
its image are masked, never NaN.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gqn.config import ModelConfig

MIN_DEPTH = 1e-3
MASKED = -1e4
OUTSIDE = 3.0  # normalised image coordinate where bilinear sampling reads only zero padding
PIXEL_CHANNELS = 4  # context colour at the depth the attention expects along each pixel's ray, and how many views see it


def query_rays(c2w: torch.Tensor, intrinsics: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ray origins [B,3] and directions [B,P,3] (z-depth 1 in the camera) through the centres of a
    height×width grid, P = height·width, for normalised intrinsics [B,4]."""
    fx, fy, cx, cy = intrinsics.unbind(-1)
    v, u = torch.meshgrid((torch.arange(height, device=c2w.device) + 0.5) / height,
                          (torch.arange(width, device=c2w.device) + 0.5) / width, indexing="ij")
    x = (u.reshape(1, -1) - cx[:, None]) / fx[:, None]
    y = (v.reshape(1, -1) - cy[:, None]) / fy[:, None]
    directions = torch.stack([x, y, torch.ones_like(x)], -1) @ c2w[:, :3, :3].transpose(1, 2)
    return c2w[:, :3, 3], directions


def project_rays(origin: torch.Tensor, directions: torch.Tensor, depths: torch.Tensor, c2w: torch.Tensor,
                 intrinsics: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Points origin + depth·direction of B×P query rays at D depths (the same for every ray, [D];
    per batch element, [B,1,D]; or each ray its own, [B,P,D]), projected into K views:
    normalised image coords [B,K,P,D,2] (OUTSIDE where masked) and a mask [B,K,P,D] of points in
    front of the camera and inside its image.

    In a view's camera frame the points are a + t·b (a: the query centre, b: the ray direction), so
    each image coordinate is (u0 + t·u1) / (z0 + t·z1): a few multiply-adds per point instead of a
    3×3 transform of every point, which matters with a point per pixel, depth and view.
    """
    rot_t = c2w[:, :, :3, :3].transpose(-1, -2)                                      # [B,K,3,3] world -> camera
    a = (rot_t @ (origin[:, None, :] - c2w[:, :, :3, 3])[..., None])[..., 0]         # [B,K,3]
    b = directions[:, None] @ c2w[:, :, :3, :3]                                      # [B,K,P,3] = Rᵀ d
    fx, fy, cx, cy = intrinsics.unbind(-1)                                           # [B,K] each
    t = depths.reshape(1, 1, 1, -1) if depths.dim() == 1 else depths[:, None]         # [D] or [B,P,D]

    def along(row_a: torch.Tensor, row_b: torch.Tensor) -> torch.Tensor:               # [B,K,P,D]
        return row_a[..., None, None] + t * row_b[..., None]

    z = along(a[..., 2], b[..., 2])
    z_safe = z.clamp_min(MIN_DEPTH)
    u = along(fx * a[..., 0] + cx * a[..., 2], fx[..., None] * b[..., 0] + cx[..., None] * b[..., 2]) / z_safe
    v = along(fy * a[..., 1] + cy * a[..., 2], fy[..., None] * b[..., 1] + cy[..., None] * b[..., 2]) / z_safe
    inside = (z > MIN_DEPTH) & (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    # Points nobody sees move far outside the image, where sampling reads zeros: masking the
    # coordinates is cheaper than masking the sampled features.
    return torch.stack([u, v], -1).masked_fill(~inside[..., None], OUTSIDE), inside


def along_rays(maps: torch.Tensor, context, query_c2w: torch.Tensor, query_intrinsics: torch.Tensor,
               height: int, width: int, depths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample context maps [B,K,C,h',w'] where the depths ([B,1,D] or [B,P,D]) of each ray of a
    height×width query grid project: the samples [B,K,C,P,D] (zero where a view does not see the
    point), their mean over the views that see each point [B,C,P,D], which views do [B,K,P,D] and
    how many [B,1,P,D]."""
    batch, views = maps.shape[:2]
    origin, directions = query_rays(query_c2w.float(), query_intrinsics.float(), height, width)
    uv, seen = project_rays(origin, directions, depths, context.c2w.float(), context.intrinsics.float())
    sampled = F.grid_sample(maps.float().flatten(0, 1), (uv * 2 - 1).flatten(0, 1), align_corners=False)
    sampled = sampled.unflatten(0, (batch, views))                                          # [B,K,C,P,D]
    count = seen.sum(1, keepdim=True, dtype=torch.float32)
    return sampled, sampled.sum(1) / count.clamp_min(1), seen, count


def nearest_photo_colour(context, query_c2w: torch.Tensor, query_intrinsics: torch.Tensor,
                         height: int, width: int) -> torch.Tensor:
    """[B,3,P]: what a height×width query grid sees in the context photo nearest the query (in
    position and viewing direction, view_descriptors), each ray read as if it ended at infinity and
    off the photo's edge at its border: the colour a point no view sees starts from, as the
    plane-sweep baseline falls back to the nearest photo."""
    images = context.images
    batch = images.shape[0]
    descriptors = view_descriptors(context.c2w.float(), query_c2w.float())                 # [B,K,2]
    nearest = descriptors.sum(-1).argmin(1)
    scene = torch.arange(batch, device=images.device)
    c2w, intrinsics = context.c2w[scene, nearest].float(), context.intrinsics[scene, nearest].float()
    _, directions = query_rays(query_c2w.float(), query_intrinsics.float(), height, width)
    local = directions @ c2w[:, :3, :3]                                                     # [B,P,3] in its camera
    fx, fy, cx, cy = (value[:, None] for value in intrinsics.unbind(-1))
    z = local[..., 2].clamp_min(MIN_DEPTH)
    uv = torch.stack([fx * local[..., 0] / z + cx, fy * local[..., 1] / z + cy], -1).clamp(0, 1)
    colour = F.grid_sample(images[scene, nearest].float(), (uv * 2 - 1)[:, None], padding_mode="border",
                           align_corners=False)
    return colour[:, :, 0]


def view_descriptors(view_c2w: torch.Tensor, query_c2w: torch.Tensor) -> torch.Tensor:
    """[B,K,2]: each view's camera distance to the query over the median of the K, and how far its
    viewing direction turns from the query's (1 − cos)."""
    distance = (view_c2w[:, :, :3, 3] - query_c2w[:, None, :3, 3]).norm(dim=-1)
    distance = distance / distance.median(1, keepdim=True).values.clamp_min(1e-9)
    turn = 1.0 - (view_c2w[:, :, :3, 2] * query_c2w[:, None, :3, 2]).sum(-1)
    return torch.stack([distance, turn], -1)


def disparities(depth_range: torch.Tensor | None, default: torch.Tensor, batch: int) -> torch.Tensor:
    """[B,D] disparities sampled along every ray: uniform over each scene's depth range [B,2] (near,
    far), else `default` [D] (the config's)."""
    if depth_range is None:
        return default.expand(batch, -1)
    steps = torch.linspace(0.0, 1.0, len(default), device=default.device)
    near, far = depth_range.float().unbind(-1)
    return (1 / near)[:, None] + steps * (1 / far - 1 / near)[:, None]


class EpipolarAttention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        channels = config.epipolar_channels
        self.project_features = nn.Conv2d(config.r_channels, channels, 1)
        described = 2 * channels + 1          # mean and variance over views, disparity
        self.score = nn.Sequential(nn.Conv2d(described, channels, 1), nn.ReLU(), nn.Conv2d(channels, 1, 1))
        self.out_channels = channels
        self.out = nn.Conv2d(described + 1, channels, 1)   # + the fraction of depths some view sees
        disparity = torch.linspace(1 / config.epipolar_near, 1 / config.epipolar_far, config.epipolar_samples)
        self.register_buffer("disparity", disparity, persistent=False)

    def features(self, per_view: torch.Tensor) -> torch.Tensor:
        """Per-view representations [N,R,h,w] -> the features attention samples [N,C,h,w]."""
        return self.project_features(per_view)

    def forward(self, context, query_c2w: torch.Tensor, query_intrinsics: torch.Tensor,
                grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """What the contexts show along each query ray: features gathered for each cell of the query's
        state grid (height, width) [B,C,h,w], and the context colour at the attended depths for each
        pixel plus how much of that some view sees [B,4,h·s,w·s] (a sharp copy where the contexts saw
        the surface)."""
        batch = context.features.shape[0]
        height, width = grid
        disparity = disparities(context.depth_range, self.disparity, batch)                   # [B,D]
        with torch.autocast(device_type=query_c2w.device.type, enabled=False):
            sampled, mean, _, count = along_rays(context.features, context, query_c2w, query_intrinsics,
                                                 height, width, 1.0 / disparity[:, None])
            squares = (sampled * sampled).sum(1)                                                 # unseen samples are 0
            variance = (squares / count.clamp_min(1) - mean ** 2).clamp_min(0)
            relative = (disparity / disparity[:, :1])[:, None, None].expand(batch, 1, mean.shape[2], -1)
            described = torch.cat([mean, variance, relative], 1)                             # [B,2C+1,P,D]
        logits = self.score(described).float().masked_fill(count == 0, MASKED)
        weights = torch.softmax(logits, dim=-1)                                                # [B,1,P,D]
        pooled = torch.einsum("bcpd,bpd->bcp", described, weights[:, 0]).unsqueeze(-1)         # [B,2C+1,P,1]
        coverage = (count > 0).float().mean(-1, keepdim=True)
        gathered = self.out(torch.cat([pooled, coverage], 1)).reshape(batch, self.out_channels, height, width)
        return gathered, self.pixels(weights, disparity, context, query_c2w, query_intrinsics, grid)

    def pixels(self, weights: torch.Tensor, disparity_steps: torch.Tensor, context, query_c2w: torch.Tensor,
               query_intrinsics: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Per full-resolution pixel: the context colour (mean over the views that see it) at the depth
        its state cell's attention expects (expected disparity, bilinearly upsampled), and the fraction
        of views that see that point. One point per pixel and view, not D: the gather stays cheap,
        and the colour still teaches the attention where the surface is (through the sample position)."""
        batch = context.images.shape[0]
        height, width = grid[0] * self.config.r_scale, grid[1] * self.config.r_scale
        disparity = (weights[:, 0] * disparity_steps[:, None]).sum(-1).reshape(batch, 1, *grid)
        disparity = F.interpolate(disparity, size=(height, width), mode="bilinear", align_corners=False)
        depth = 1.0 / disparity.reshape(batch, height * width, 1)
        with torch.autocast(device_type=query_c2w.device.type, enabled=False):
            _, colour, _, count = along_rays(context.images, context, query_c2w, query_intrinsics, height, width, depth)
        seen = count / context.images.shape[1]
        return torch.cat([colour, seen], 1).reshape(batch, PIXEL_CHANNELS, height, width)
