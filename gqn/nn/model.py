"""GQN: representation network + ConvDRAW generator, trained on the ELBO.

Shapes: B scenes, K context views, Q queries, S samples, R representation channels,
h×w the generator's state resolution (image size / r_scale). Every part is convolutional or
works per pixel, so views and queries may have any shape and camera; a capture's views are
encoded once (`Encoding`) and each query gathers the K of them that matter.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gqn import camera
from gqn.baselines.nearest import nearest_views
from gqn.config import ModelConfig
from gqn.data.images import resize_image, working_size
from gqn.data.normalize import SceneFrame, scene_frame
from gqn.data.viewset import PROCEDURAL_FORMATS, ViewSet
from gqn.errors import GQNError
from gqn.nn.generator import Generator
from gqn.nn.representation import VIEWPOINT_DIM, Pool, Tower, viewpoint


@dataclass
class Context:
    """What the model keeps of a context set; computed once, reused for every query."""

    r: torch.Tensor                 # [B,R,h,w] (h=w=1 for "pool"): the summed representation
    c2w: torch.Tensor               # [B,K,4,4]
    intrinsics: torch.Tensor        # [B,K,4] normalised (fx/W, fy/H, cx/W, cy/H)
    features: torch.Tensor | None = None  # [B,K,C,h,w] per-view features ("epipolar" only)
    images: torch.Tensor | None = None    # [B,K,3,H,W] the context images ("epipolar" only)
    depth_range: torch.Tensor | None = None  # [B,2] (near, far) of the scene; None: the config's
    points: torch.Tensor | None = None       # [B,M,3] sparse points of the scene, NaN rows: none ("sweep" only)


@dataclass
class Encoding:
    """A capture encoded once, in model space: every view's representation, reused for every query
    (each query sums the K views nearest to it)."""

    per_view: torch.Tensor               # [V,R,h,w]
    c2w: torch.Tensor                    # [V,4,4] in model space
    intrinsics: torch.Tensor             # [V,4] normalised
    frame: SceneFrame                    # scene -> model space, and the scene's depth range there
    view_size: tuple[int, int]           # (height, width) of the views as given (their aspect is the default)
    features: torch.Tensor | None = None  # [V,C,h,w] ("epipolar", "sweep")
    images: torch.Tensor | None = None    # [V,3,H,W] ("epipolar", "sweep")
    points: torch.Tensor | None = None    # [M,3] the capture's sparse points in model space ("sweep")

    def __len__(self) -> int:
        return len(self.c2w)

    def context(self, index: torch.Tensor, depth_range: torch.Tensor | None) -> Context:
        """The context sets index [Q,K] (view numbers) as a batch of Q."""
        gather = lambda t: None if t is None else t[index]  # noqa: E731
        return Context(r=self.per_view[index].sum(1), c2w=self.c2w[index], intrinsics=self.intrinsics[index],
                       features=gather(self.features), images=gather(self.images),
                       depth_range=None if depth_range is None else depth_range.expand(len(index), 2),
                       points=None if self.points is None else self.points.expand(len(index), -1, -1))


ENCODE_CHUNK = 32      # views encoded per forward pass
QUERY_CHUNK = 16       # queries conditioned per pass (each gathers its own K contexts)
POINTS_INPUT = 3000    # sparse points the sweep reads per capture (trained on up to 1000; 3000 read +0.15 dB on 10 captures)
SWEEP_QUERY_CHUNK = 2  # ... with the sweep (about 300 MB per 128×96 query)
MAX_OUTPUT_SIDE = 4096
INSIDE_FRACTION = 0.1  # a query nearer the scene centre than this fraction of the cameras' distance is inside it


def _chunks(total: int, size: int) -> list[slice]:
    return [slice(start, start + size) for start in range(0, total, size)]


def images_to_tensor(images: np.ndarray | torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """uint8 [...,H,W,3] -> float [...,3,height,width] in [0,1] at `size` (one side for square
    images, or (height, width)), resized if needed: arrays as photos are (Lanczos, resize_image),
    tensors antialiased bilinear."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if isinstance(images, np.ndarray):  # torch wants writable memory; batches fancy-indexed from memmaps already are
        if images.shape[-3:-1] != size:
            flat = images.reshape(-1, *images.shape[-3:])
            images = np.stack([resize_image(image, size) for image in flat]).reshape(*images.shape[:-3], *size, 3)
        x = torch.from_numpy(images if images.flags.writeable else images.copy())
    else:
        x = torch.as_tensor(images)
    lead = x.shape[:-3]
    x = x.reshape(-1, *x.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0
    return resize(x, size).reshape(*lead, 3, *size)


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """float images [N,3,H,W] in [0,1] at (height, width), antialiased; the same tensor when already so."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def frame_for(views: ViewSet, config: ModelConfig) -> SceneFrame:
    """Scene -> model space for these views. Scenes made by the project's own procedural generators
    already sit where a procedural model was trained; any other capture is centred, turned z-up and
    scaled to the training cameras' distance, with its own depth range."""
    if views.meta.get("format") in PROCEDURAL_FORMATS and "photo" not in str(config.trained_on.get("kind", "")):
        return SceneFrame.identity(config.epipolar_near, config.epipolar_far)
    if len(views) < 2:
        raise GQNError(f"{views.source}: {len(views)} photo{'s' * (len(views) != 1)}; the model needs at least "
                       "2 posed photos of a scene to find where it is")
    return scene_frame(views, config.trained_on.get("camera_radius") or 1.0)


def input_points(points: np.ndarray, most: int = POINTS_INPUT) -> np.ndarray:
    """The finite ones of a capture's sparse points [M,3], at most `most` of them (an even, fixed
    draw): the sweep was trained on captures of about that many."""
    points = np.asarray(points, np.float64)
    points = points[np.isfinite(points).all(1)]
    if len(points) > most:
        points = points[np.random.default_rng(0).choice(len(points), most, replace=False)]
    return points


def radius_of(encoding: Encoding) -> float:
    """The cameras' typical distance from the scene centre in model space (the origin there)."""
    return max(float(encoding.c2w[:, :3, 3].norm(dim=-1).median()), 1e-6)


def check_query_intrinsics(query_intrinsics: np.ndarray | None, count: int, encoding: Encoding) -> np.ndarray:
    """[Q,4] normalised query intrinsics, the first view's when None; GQNError unless finite and fx, fy > 0."""
    if query_intrinsics is None:
        return encoding.intrinsics[:1].double().cpu().numpy().repeat(count, 0)
    intrinsics = np.asarray(query_intrinsics, np.float64)
    if intrinsics.shape not in ((4,), (count, 4)):
        raise GQNError(f"query intrinsics must be [4] or [{count},4] (fx/W, fy/H, cx/W, cy/H), got {intrinsics.shape}")
    intrinsics = np.array(np.broadcast_to(intrinsics, (count, 4)))
    if not np.isfinite(intrinsics).all() or (intrinsics[:, :2] <= 0).any():
        raise GQNError("query intrinsics must be finite with positive focal lengths (fx/W, fy/H, cx/W, cy/H)")
    return intrinsics


def check_size(size: tuple[int, int] | None, encoding: Encoding, long_side: int) -> tuple[int, int]:
    """(height, width) of the output: as asked, or the first view's aspect at the model's resolution."""
    if size is None:
        return working_size(*encoding.view_size, long_side)
    try:
        height, width = (int(side) for side in size)
    except (TypeError, ValueError):
        raise GQNError(f"size must be (height, width) in pixels, got {size!r}") from None
    if not (1 <= height <= MAX_OUTPUT_SIDE and 1 <= width <= MAX_OUTPUT_SIDE):
        raise GQNError(f"size must be 1 to {MAX_OUTPUT_SIDE} pixels a side, got {height}×{width}")
    return height, width


def check_outside_scene(model_query: np.ndarray, encoding: Encoding) -> None:
    """GQNError for a query camera inside the scene (at its centre): it sees nothing the photos show."""
    inside = np.linalg.norm(model_query[:, :3, 3], axis=-1) < INSIDE_FRACTION * radius_of(encoding)
    if inside.any():
        raise GQNError(f"query camera {int(np.argmax(inside))} sits inside the scene, at its centre; move it out "
                       "to where the photos were taken from")


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """float [...,3,H,W] in [0,1] -> uint8 [...,H,W,3]."""
    return (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).movedim(-3, -1).cpu().numpy()


class GQN(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        if config.representation == "sweep":   # geometry first: the generator paints over a learned plane sweep
            from gqn.nn.sweep import DepthSweep
            self.sweep = DepthSweep(config)
            pixels, features = self.sweep.out_channels - config.epipolar_channels, config.epipolar_channels
            self.generator = Generator(config, pixels * config.r_scale ** 2 + features, self.sweep.out_channels,
                                       residual=True, trust_gate=config.trust_gate)
        else:
            self.representation = (Pool if config.representation == "pool" else Tower)(config)
            cond_channels, skip_channels = config.r_channels + VIEWPOINT_DIM, 0
            if config.representation == "epipolar":
                from gqn.nn.epipolar import PIXEL_CHANNELS, EpipolarAttention
                self.epipolar = EpipolarAttention(config)
                cond_channels += self.epipolar.out_channels + PIXEL_CHANNELS * config.r_scale ** 2
                skip_channels = PIXEL_CHANNELS
            self.generator = Generator(config, cond_channels, skip_channels)
        # Mean training image: the dataset-mean baseline of `gqn evaluate`; saved with the weights.
        self.register_buffer("data_mean", torch.full((3, config.image_size, config.image_size), 0.5))

    @property
    def query_chunk(self) -> int:
        """Queries conditioned per pass: the sweep holds D depths × K views of every pixel at once."""
        return SWEEP_QUERY_CHUNK if self.config.representation == "sweep" else QUERY_CHUNK

    def autocast(self) -> contextlib.AbstractContextManager:
        device = next(self.parameters()).device.type
        return torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=self.config.bf16)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- the three stages: encode contexts, condition on a query, generate -----------------------

    def encode_each(self, images: torch.Tensor, c2w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Views [N,3,H,W] at poses [N,4,4] -> their representations [N,R,h,w] and, with epipolar
        attention, the features it samples [N,C,h,w] (else None). The sweep keeps only its features
        (at full resolution) and sums nothing: both are those."""
        if self.config.representation == "sweep":
            features = self.sweep.features(images)
            return features, features
        per_view = self.representation(images, viewpoint(c2w).to(images.dtype))
        return per_view, (self.epipolar.features(per_view) if self.config.representation == "epipolar" else None)

    def encode(self, images: torch.Tensor, c2w: torch.Tensor, intrinsics: torch.Tensor,
               depth_range: torch.Tensor | None = None, points: torch.Tensor | None = None) -> Context:
        """images [B,K,3,H,W] in [0,1], c2w [B,K,4,4], normalised intrinsics [B,K,4], each scene's
        (near, far) [B,2] (None: the config's) and sparse points [B,M,3] (None: none) -> Context."""
        batch, views = images.shape[:2]
        per_view, features = self.encode_each(images.flatten(0, 1), c2w.flatten(0, 1))
        r = per_view.unflatten(0, (batch, views)).sum(1)
        if features is None:
            return Context(r=r, c2w=c2w, intrinsics=intrinsics, depth_range=depth_range)
        return Context(r=r, c2w=c2w, intrinsics=intrinsics, features=features.unflatten(0, (batch, views)),
                       images=images, depth_range=depth_range, points=points)

    def grid(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """The generator's state grid for images of (height, width)."""
        return image_size[0] // self.config.r_scale, image_size[1] // self.config.r_scale

    def condition(self, context: Context, query_c2w: torch.Tensor, query_intrinsics: torch.Tensor,
                  grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the generator sees for each query on its state grid (height, width): r (resized to
        the grid when the query's shape differs from the contexts') and v_q broadcast,
        [B,C,h,w]; with epipolar attention also what it gathers from the contexts, and the context
        pixels it found along each pixel's ray as a full-resolution skip input [B,4,H,W] (else None).
        The sweep's output at full resolution is both: its colour and certainty space-to-depth and its
        features averaged on the state grid, and the skip."""
        if self.config.representation == "sweep":
            scale, features = self.config.r_scale, self.config.epipolar_channels
            swept = self.sweep(context, query_c2w, query_intrinsics, (grid[0] * scale, grid[1] * scale))
            cond = torch.cat([F.pixel_unshuffle(swept[:, :-features], scale), F.avg_pool2d(swept[:, -features:], scale)], 1)
            return cond, swept
        r, grid = context.r, tuple(grid)
        if r.shape[-2:] == (1, 1):
            r = r.expand(-1, -1, *grid)
        elif tuple(r.shape[-2:]) != grid:
            r = F.interpolate(r, size=grid, mode="bilinear", align_corners=False)
        v = viewpoint(query_c2w)[:, :, None, None].to(r.dtype).expand(-1, -1, *grid)
        if context.features is None:
            return torch.cat([r, v], 1), None
        gathered, pixels = self.epipolar(context, query_c2w, query_intrinsics, grid)
        unshuffled = F.pixel_unshuffle(pixels, self.config.r_scale)
        return torch.cat([r, v, gathered.to(r.dtype), unshuffled.to(r.dtype)], 1), pixels

    def forward(self, context_images: torch.Tensor, context_c2w: torch.Tensor, context_intrinsics: torch.Tensor,
                query_image: torch.Tensor, query_c2w: torch.Tensor, query_intrinsics: torch.Tensor,
                sigma: float, noise: torch.Tensor | None = None, depth_range: torch.Tensor | None = None,
                points: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The negative ELBO, averaged over the batch (nats per image), with its NLL and KL parts; with a
        trust gate (noise then [L·(1 + TRUST_SAMPLES),B,z,h,w]) plus the NLL of the mean of prior
        samples, which trains the gate alone."""
        with self.autocast():
            context = self.encode(context_images, context_c2w, context_intrinsics, depth_range, points)
            cond, skip = self.condition(context, query_c2w, query_intrinsics, self.grid(query_image.shape[-2:]))
            nll, kl, mean = self.generator.elbo(cond, query_image, sigma, noise, skip)
            result = {"loss": (nll + kl).mean(), "nll": nll.mean(), "kl": kl.mean(), "mean": mean}
            if self.generator.trust is not None:
                trust = self.generator.trust_nll(cond, query_image, sigma, skip, noise)
                result["loss"] = result["loss"] + trust.mean()
                result["trust_nll"] = trust.mean()
        return result

    @torch.inference_mode()
    def sample(self, cond: torch.Tensor, skip: torch.Tensor | None, samples: int = 1,
               generator: torch.Generator | None = None, chunk: int = 64) -> torch.Tensor:
        """Prior samples for Q conditioned queries (cond [Q,C,h,w], skip [Q,c,H,W] or None):
        [Q,S,3,H,W] in [0,1]; queries × samples go through the generator `chunk` at a time."""
        with self.autocast():
            cond = cond.repeat_interleave(samples, 0)
            skip = None if skip is None else skip.repeat_interleave(samples, 0)
            images = torch.cat([self.generator.sample(cond[part], generator, None if skip is None else skip[part])
                                for part in _chunks(len(cond), chunk)])
        return images.unflatten(0, (len(images) // samples, samples))

    # --- numpy in, numpy out: what the app, the CLI and tests call ---------------------------------

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def scene_frame(self, views: ViewSet) -> SceneFrame:
        return frame_for(views, self.config)

    @torch.inference_mode()
    def encode_views(self, views: ViewSet) -> Encoding:
        """Encode every view of a capture once, in model space (cache the result: queries reuse it).
        Views keep their aspect; the long side becomes the model's resolution."""
        if len(views) == 0:
            raise GQNError("the context set is empty: give the model at least one view")
        frame = self.scene_frame(views)
        size = working_size(*views.size, self.config.context_side, self.config.r_scale)
        device = self._device()
        c2w = torch.as_tensor(frame.poses(views.c2w), dtype=torch.float32, device=device)
        intrinsics = torch.as_tensor(views.normalised_intrinsics(), dtype=torch.float32, device=device)
        parts = []
        for part in _chunks(len(views), ENCODE_CHUNK):   # float copies of a chunk of photos at a time
            images = images_to_tensor(views.images[part], size).to(device)
            with self.autocast():
                parts.append((images, *self.encode_each(images, c2w[part])))
        images, per_view, features = (torch.cat(t) if t[0] is not None else None for t in zip(*parts))
        if features is None:
            return Encoding(per_view, c2w, intrinsics, frame, views.size)
        points = None
        if self.config.representation == "sweep" and views.points is not None and len(views.points):
            points = input_points(views.points) @ frame.transform[:3, :3].T + frame.transform[:3, 3]
            points = torch.as_tensor(points, dtype=torch.float32, device=device)[None]
        return Encoding(per_view, c2w, intrinsics, frame, views.size, features, images, points)

    def sample_views(self, encoding: Encoding, query_c2w: np.ndarray, samples: int = 8, seed: int = 0,
                     query_intrinsics: np.ndarray | None = None, size: tuple[int, int] | None = None) -> np.ndarray:
        """uint8 [Q,S,height,width,3] prior samples at scene poses query_c2w [Q,4,4] (or [4,4]); the
        same seed gives the same pixels. query_intrinsics are normalised (fx/W, fy/H, cx/W, cy/H),
        [Q,4] or [4], by default the first view's; size = (height, width), by default the first
        view's aspect at the model's resolution."""
        query = camera.as_poses(query_c2w, "query camera")
        intrinsics = check_query_intrinsics(query_intrinsics, len(query), encoding)
        height, width = check_size(size, encoding, self.config.image_size)
        model_query = encoding.frame.poses(query)
        check_outside_scene(model_query, encoding)
        cells = self.config.r_scale
        grid = (-(-height // cells), -(-width // cells))
        k = min(self.config.contexts, len(encoding))
        if k < len(encoding):
            index = nearest_views(encoding.c2w.double().cpu().numpy(), model_query, k, radius_of(encoding))
        else:
            index = np.tile(np.arange(k), (len(query), 1))
        device = self._device()
        depth_range = torch.tensor([[encoding.frame.near, encoding.frame.far]], dtype=torch.float32, device=device)
        query_t = torch.as_tensor(model_query, dtype=torch.float32, device=device)
        intrinsics_t = torch.as_tensor(intrinsics, dtype=torch.float32, device=device)
        generator = torch.Generator().manual_seed(seed)
        drawn = []
        with torch.inference_mode():
            for part in _chunks(len(query), self.query_chunk):
                context = encoding.context(torch.as_tensor(index[part], device=device), depth_range)
                with self.autocast():
                    cond, skip = self.condition(context, query_t[part], intrinsics_t[part], grid)
                drawn.append(self.sample(cond, skip, samples, generator))
            images = torch.cat(drawn)
            if images.shape[-2:] != (height, width):
                images = resize(images.flatten(0, 1).float(), (height, width)).unflatten(0, images.shape[:2])
        return tensor_to_images(images)

    def predict(self, views: ViewSet, query_c2w: np.ndarray, samples: int = 8, seed: int = 0,
                query_intrinsics: np.ndarray | None = None, size: tuple[int, int] | None = None) -> np.ndarray:
        """What the model imagines at each query camera, given `views` (any frame, units, cameras,
        number) as context: uint8 [Q,S,height,width,3]. See `sample_views` for the arguments."""
        return self.sample_views(self.encode_views(views), query_c2w, samples, seed, query_intrinsics, size)

    def save(self, folder: str | Path, card: str | None = None) -> Path:
        from gqn.checkpoint import save_model
        return save_model(self, folder, card)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> GQN:
    """A model folder (model.safetensors + config.json) or a training run (its latest checkpoint),
    in eval mode. Raises GQNError naming the file when the folder is missing, foreign or truncated
    (read_model_folder has checked every weight's name and shape against config.json)."""
    from gqn.checkpoint import read_model_folder
    config, state = read_model_folder(path)
    model = GQN(config)
    model.load_state_dict(state)
    return model.to(device).eval()
