"""A learned plane sweep: the photo model's representation, geometry first.

The query is divided into 2×2-pixel cells; each cell casts its ray, and D depths along it (uniform
in disparity over the scene's depth range) are projected into the K context views nearest the
query, where colours and small learned features are sampled. Per cell and depth, the mean and the
variance of those features across the views that see the point say whether a surface is there
(photo-consistency); the capture's sparse structure-from-motion points near the cell say where
they found one. A small network scores each depth, a few 3×3 convolutions over the D scores
stacked as channels let neighbouring cells agree (cost aggregation), then a softmax over depth.
At each depth the views get learned blend weights (views whose features agree with the others and
whose cameras sit nearer the query count more).

Every pixel then reads the contexts' colours at full resolution at the depth its cell attends to
(the expected disparity, bilinearly interpolated between cells), blended with those weights: sharp
where the photos agree. Where the capture has sparse points, each pixel also reads the colours at
the depths of the few points nearest it in the image (config.point_candidates) and a small network
chooses between them and the sweep's depth by how well the views agree there: points are exact
where structure from motion found them, and they keep silhouettes at full resolution. With it come
the soft colour (blended over the depths), how sure the sweep was (peak weight, colour spread, how
much any view saw, the expected disparity, the points' support) and the features at the attended
depths: the ConvDRAW generator paints a residual over the sharp colour, and its latent varies where
the sweep could not answer; a learned trust gate (gqn.nn.generator) shows as much of that residual as
has paid off against the truth. A point no view sees starts from the colour its ray has in the
nearest photo (as the plane-sweep baseline falls back to that photo), not from a made-up grey: a
white backdrop stays white beyond the photos' edges.

Everything is relative (disparities over the scene's own near plane, camera distances over their
median), so it is the same for any frame, unit and scale of a capture.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from gqn.config import ModelConfig
from gqn.nn.epipolar import MASKED, along_rays, disparities, nearest_photo_colour, view_descriptors
from gqn.nn.points import nearest_point_depths

SUMMARY_CHANNELS = 6   # peak depth weight, colour spread at the attended depth, seen fraction, expected disparity,
                       # nothing-seen flag, how many sparse points lie near the pixel
SPREAD_CHANNEL = 4     # of the soft output: colour spread at the depth the sharp colour came from (after the soft
                       # colour and the sweep's peak weight)
POINT_WINDOW = 5       # cells of the sweep's grid: a sparse point is evidence for the depths of the cells this near it
SWEEP_STRIDE = 2       # the sweep runs on a grid of 2×2-pixel cells; colours are then read at every pixel
BLEND_CHANNELS = 4     # per view and point: feature and colour distance from the views' mean; camera distance to the
                       # query (relative to the others') and turn from its viewing direction
CANDIDATE_CHANNELS = 10  # per pixel and depth candidate: colour spread there (and over 3×3 pixels), feature spread
                         # (logs), seen fraction, distance to its point in point spacings, disparity relative to the
                         # sweep's and to the nearest candidate's, is it the sweep's; the sweep's peak weight and spread
SPREAD_FLOOR = 1e-4      # spreads (variances of 0..1 colours) enter the choice as log(spread + SPREAD_FLOOR)
AGREEMENT_SHARPNESS = 2.0  # the choice starts as the classical one: logit −2·log(1 + 3×3 colour spread / floor)


class DepthSweep(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        width, channels, depths = config.tower_channels, config.epipolar_channels, config.epipolar_samples
        self.encoder = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(width, channels, 3, padding=1))
        described = 2 * channels + 5          # feature mean and variance, colour variance, seen fraction, disparity,
                                              # sparse points' share at this depth and their number
        # Per-point networks run channels-last (nn.Linear): a matrix product, far cheaper than 1×1
        # convolutions over P×D "images".
        self.score = nn.Sequential(nn.Linear(described, 32), nn.ReLU(), nn.Linear(32, 1))
        self.aggregate = nn.Sequential(nn.Conv2d(depths, depths, 3, padding=1), nn.ReLU(),
                                       nn.Conv2d(depths, depths, 3, padding=1))
        self.blend = nn.Sequential(nn.Linear(BLEND_CHANNELS, 8), nn.ReLU(), nn.Linear(8, 1))
        self.candidates = config.point_candidates
        if self.candidates:
            self.choose = nn.Sequential(nn.Linear(CANDIDATE_CHANNELS, 16), nn.ReLU(), nn.Linear(16, 1))
            with torch.no_grad():   # start as the classical choice (gqn.baselines.sparse_depth): where the views agree
                first, last = self.choose[0], self.choose[-1]
                first.weight[0].zero_()
                first.weight[0, 1] = 1.0   # hidden unit 0 = log(3×3 colour spread + floor) − log(floor) ≥ 0
                first.bias[0] = -math.log(SPREAD_FLOOR)
                last.weight.zero_()
                last.weight[0, 0] = -AGREEMENT_SHARPNESS
                last.bias.zero_()
        self.out_channels = 3 + 3 + SUMMARY_CHANNELS + channels
        disparity = torch.linspace(1 / config.epipolar_near, 1 / config.epipolar_far, depths)
        self.register_buffer("disparity", disparity, persistent=False)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Views [N,3,H,W] in [0,1] -> the features the sweep samples [N,C,H,W]."""
        return self.encoder(images)

    def forward(self, context, query_c2w: torch.Tensor, query_intrinsics: torch.Tensor,
                size: tuple[int, int]) -> torch.Tensor:
        """[B,out_channels,H,W] for queries of size (H, W): the sharp colour (3), then, upsampled from
        the sweep's grid, the soft colour (3), the sweep's certainty (SUMMARY_CHANNELS) and the
        features pooled at the attended depths."""
        height, width = size
        low = (-(-height // SWEEP_STRIDE), -(-width // SWEEP_STRIDE))
        with torch.autocast(device_type=query_c2w.device.type, enabled=False):
            maps = torch.cat([context.images.float(), context.features.float()], 2)   # sampled by sweep and choice
            weights, blend, disparity, soft = self.sweep(context, maps, query_c2w.float(), query_intrinsics.float(), low)
            batch, views = blend.shape[:2]
            upsample = lambda x: F.interpolate(x.reshape(batch, -1, *low), size=(height, width),  # noqa: E731
                                               mode="bilinear", align_corners=False)
            expected = upsample((weights * disparity[:, None]).sum(-1)).reshape(batch, height * width, 1)
            soft = upsample(soft)
            found = soft.reshape(batch, -1, height * width)
            if self.candidates and context.points is not None:
                sharp, spread = self.choose_depth(maps, expected, disparity, found, context, query_c2w.float(),
                                                  query_intrinsics.float(), size)
                # the generator reads how well the views agree where the sharp colour came from
                soft = torch.cat([soft[:, :SPREAD_CHANNEL], spread.reshape(batch, 1, height, width),
                                  soft[:, SPREAD_CHANNEL + 1:]], 1)
            else:   # the photos' colours at the expected depth, blended as the sweep weighed them around it
                view_weight = upsample((blend * weights[:, None]).sum(-1)).reshape(batch, views, -1)   # [B,K,P]
                sampled, _, seen, _ = along_rays(context.images, context, query_c2w, query_intrinsics, height, width,
                                              1.0 / expected.clamp_min(1e-6))                          # [B,K,3,P,1]
                weight = view_weight * seen[..., 0]
                total = weight.sum(1)                                                                  # [B,P]
                sharp = (sampled[..., 0] * weight[:, :, None]).sum(1) / total.clamp_min(1e-6)[:, None]
                sharp = torch.where(total[:, None] > 0, sharp, found[:, :3])
        return torch.cat([sharp.reshape(batch, 3, height, width), soft], 1)

    def sweep(self, context, maps: torch.Tensor, query_c2w: torch.Tensor, query_intrinsics: torch.Tensor,
              size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The sweep over the contexts' colours and features `maps` [B,K,3+C,h,w] on a (height, width)
        grid: weights over depth [B,P,D], per-view blend weights at
        each depth [B,K,P,D], the disparities [B,D], and what it found [B,3+SUMMARY+C,P] (the soft
        colour, the certainty, the features at the attended depths)."""
        height, width = size
        batch, views = context.images.shape[:2]
        disparity = disparities(context.depth_range, self.disparity, batch)                # [B,D]
        sampled, mean, seen, count = along_rays(maps, context, query_c2w, query_intrinsics, height, width,
                                                1.0 / disparity[:, None])                  # [B,K,C,P,D], [B,C,P,D]
        unseen = nearest_photo_colour(context, query_c2w, query_intrinsics, height, width)
        variance, blend, colour = self.agree(sampled, mean, seen, count, view_descriptors(context.c2w.float(), query_c2w),
                                             unseen)
        colour_spread = variance[:, :3].mean(1, keepdim=True)
        relative = (disparity / disparity[:, :1])[:, None, None].expand(batch, 1, mean.shape[2], -1)
        points = point_evidence(context.points, query_c2w, query_intrinsics, disparity, height, width)
        described = torch.cat([mean[:, 3:], variance[:, 3:], colour_spread, count / views, relative, points], 1)
        depths = disparity.shape[1]
        scores = self.score(described.permute(0, 2, 3, 1))[..., 0].transpose(1, 2).reshape(batch, depths, height, width)
        scores = (scores + self.aggregate(scores)).reshape(batch, depths, -1).transpose(1, 2)  # [B,P,D]
        nobody = count[:, 0] == 0
        weights = torch.softmax(scores.masked_fill(nobody, MASKED), -1)                    # over depth
        attend = lambda x: (x * weights[:, None]).sum(-1)                                  # noqa: E731  [B,c,P]
        found = torch.cat([attend(colour), weights.amax(-1)[:, None],
                           *(attend(x) for x in (colour_spread, count / views, relative)),
                           nobody.all(-1)[:, None].float(), points[:, 1:, :, 0], attend(mean[:, 3:])], 1)
        return weights, blend, disparity, found

    def agree(self, sampled: torch.Tensor, mean: torch.Tensor, seen: torch.Tensor, count: torch.Tensor,
              cameras: torch.Tensor, unseen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """How the K views agree at each point, from their colours and features there [B,K,3+C,P,D]
        (along_rays) and their cameras [B,K,2] (view_descriptors): the variance over the views that
        see it [B,3+C,P,D], their learned blend weights [B,K,P,D] and the blended colour [B,3,P,D]
        (where none does, the colour `unseen` [B,3,P] of the ray in the nearest photo, nearest_photo_colour)."""
        apart = sampled - mean[:, None]
        apart.square_()
        apart.masked_fill_(~seen[:, :, None], 0.0)                                         # [B,K,C,P,D]
        variance = apart.sum(1) / count.clamp_min(1)
        cameras = cameras[:, :, None, None].expand(-1, -1, *seen.shape[-2:], -1)
        blend = torch.cat([apart[:, :, 3:].mean(2)[..., None], apart[:, :, :3].mean(2)[..., None], cameras], -1)
        blend = torch.softmax(self.blend(blend)[..., 0].masked_fill(~seen, MASKED), 1)    # over views
        colour = (sampled[:, :, :3] * (blend * seen)[:, :, None]).sum(1)
        return variance, blend, torch.where(count == 0, unseen[..., None], colour)

    def choose_depth(self, maps: torch.Tensor, expected: torch.Tensor, disparity: torch.Tensor,
                     certainty: torch.Tensor, context, query_c2w: torch.Tensor, query_intrinsics: torch.Tensor,
                     size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The sharp colour [B,3,P] at the depth chosen per pixel among the sweep's (its expected
        disparity [B,P,1]; the sweep's disparities [B,D] and upsampled findings [B,c,P]) and those of
        the sparse points nearest the pixel in the image, by how well the views agree there (the
        contexts' colours and features `maps`): a learned version of the sparse-depth baseline's
        choice, which is where it starts. Where no view sees any candidate, the soft colour. With it
        the colour spread there [B,P], in place of the sweep's."""
        height, width = size
        batch, views = context.images.shape[:2]
        points, distance, spacing = nearest_point_depths(context.points, query_c2w, query_intrinsics, height, width,
                                                         self.candidates)                 # [B,P,C]
        sweep = 1.0 / expected                                                              # [B,P,1]
        present = torch.cat([torch.ones_like(sweep, dtype=torch.bool), torch.isfinite(points)], -1)
        depth = torch.cat([sweep, points], -1).where(present, sweep)                       # [B,P,1+C]
        distance = torch.cat([torch.zeros_like(sweep), distance / spacing[:, None, None]], -1)
        sampled, mean, seen, count = along_rays(maps, context, query_c2w, query_intrinsics, height, width, depth)
        unseen = nearest_photo_colour(context, query_c2w, query_intrinsics, height, width)
        variance, _, colour = self.agree(sampled, mean, seen, count, view_descriptors(context.c2w.float(), query_c2w),
                                         unseen)
        spread = variance[:, :3].mean(1)                                                   # [B,P,1+C]
        pooled = F.avg_pool2d(spread.transpose(1, 2).reshape(batch, -1, height, width), 3, 1, 1,
                              count_include_pad=False).reshape(batch, spread.shape[-1], -1).transpose(1, 2)
        near = disparity[:, :1, None]
        candidate = (1.0 / depth).masked_fill(~present, 0.0)
        is_sweep = torch.zeros_like(spread)
        is_sweep[..., 0] = 1.0
        log = lambda x: torch.log(x + SPREAD_FLOOR)                                        # noqa: E731
        described = torch.stack([log(spread), log(pooled), log(variance[:, 3:].mean(1)), count[:, 0] / views,
                                 torch.log1p(distance), (candidate - expected) / near,
                                 (candidate - candidate.amax(-1, keepdim=True)) / near, is_sweep,
                                 certainty[:, SPREAD_CHANNEL - 1, :, None].expand_as(spread),
                                 log(certainty[:, SPREAD_CHANNEL, :, None].clamp_min(0)).expand_as(spread)], -1)
        described = torch.where(present[..., None], described, 0.0)                        # no NaN reaches a gradient
        usable = present & (count[:, 0] > 0)
        choice = torch.softmax(self.choose(described)[..., 0].masked_fill(~usable, MASKED), -1)  # [B,P,1+C]
        chosen = (colour * choice[:, None]).sum(-1)
        answered = usable.any(-1)
        return (torch.where(answered[:, None], chosen, certainty[:, :3]),
                torch.where(answered, (spread * choice).sum(-1), certainty[:, SPREAD_CHANNEL]))


def point_evidence(points: torch.Tensor | None, query_c2w: torch.Tensor, query_intrinsics: torch.Tensor,
                   disparity: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """What a capture's sparse points [B,M,3] (NaN rows: none) say about each query pixel's depth:
    [B,2,P,D], the share of the points near the pixel (POINT_WINDOW) that lie at each of the D
    disparities, and log(1 + their number) (the same for every depth). Zeros without points."""
    batch, depths = disparity.shape
    if points is None:
        return disparity.new_zeros(batch, 2, height * width, depths)
    valid = torch.isfinite(points).all(-1)
    world_to_camera = query_c2w[:, :3, :3]
    local = torch.einsum("bij,bmi->bmj", world_to_camera, points.nan_to_num() - query_c2w[:, None, :3, 3])
    z = local[..., 2].clamp_min(1e-6)
    fx, fy, cx, cy = (value[:, None] for value in query_intrinsics.unbind(-1))
    column = ((fx * local[..., 0] / z + cx) * width).floor()
    row = ((fy * local[..., 1] / z + cy) * height).floor()
    step = ((1 / z - disparity[:, :1]) / (disparity[:, -1:] - disparity[:, :1]) * (depths - 1)).round()
    keep = (valid & (local[..., 2] > 1e-6) & (column >= 0) & (column < width) & (row >= 0) & (row < height)
            & (step >= 0) & (step <= depths - 1))
    scene = torch.arange(batch, device=points.device)[:, None].expand_as(keep)
    index = ((scene * depths + step) * height + row) * width + column
    volume = disparity.new_zeros(batch * depths * height * width)
    volume.index_add_(0, index[keep].long(), torch.ones_like(z[keep]))
    volume = F.avg_pool2d(volume.reshape(batch, depths, height, width), POINT_WINDOW, 1, POINT_WINDOW // 2,
                          count_include_pad=False) * POINT_WINDOW ** 2
    padded = F.pad(volume, (0, 0, 0, 0, 1, 1))                 # a point counts half at the neighbouring depths
    volume = 0.5 * padded[:, :-2] + volume + 0.5 * padded[:, 2:]
    support = volume.sum(1, keepdim=True)
    share = volume / support.clamp_min(1e-6)
    evidence = torch.cat([share, torch.log1p(support).expand_as(share)], 1)   # [B,2·D,H,W]
    return evidence.reshape(batch, 2, depths, height * width).transpose(2, 3)

