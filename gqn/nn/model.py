"""GQN: representation network + ConvDRAW generator, trained on the ELBO.

Shapes: B scenes, K context views, Q queries, S samples, R representation channels,
h×w the generator's state resolution (image_size / r_scale).
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gqn.config import ModelConfig
from gqn.data.viewset import ViewSet
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

    def expand(self, n: int) -> "Context":
        """The same (single) context set for n queries, without copying."""
        return Context(**{f.name: None if (t := getattr(self, f.name)) is None else t.expand(n, *t.shape[1:])
                          for f in dataclasses.fields(self)})


def _chunks(total: int, size: int) -> list[slice]:
    return [slice(start, start + size) for start in range(0, total, size)]


def images_to_tensor(images: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [...,H,W,3] -> float [...,3,size,size] in [0,1], resized (antialiased) if needed."""
    if isinstance(images, np.ndarray):  # torch wants writable memory; batches fancy-indexed from memmaps already are
        x = torch.from_numpy(images if images.flags.writeable else images.copy())
    else:
        x = torch.as_tensor(images)
    lead = x.shape[:-3]
    x = x.reshape(-1, *x.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-2] != x.shape[-1]:
        raise GQNError(f"the model takes square images, got {x.shape[-2]}×{x.shape[-1]}: crop them first "
                       "(gqn.data.normalize.to_model_input)")
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    return x.reshape(*lead, 3, size, size)


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """float [...,3,H,W] in [0,1] -> uint8 [...,H,W,3]."""
    return (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).movedim(-3, -1).cpu().numpy()


class GQN(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
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

    def autocast(self) -> contextlib.AbstractContextManager:
        device = next(self.parameters()).device.type
        return torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=self.config.bf16)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- the three stages: encode contexts, condition on a query, generate -----------------------

    def encode(self, images: torch.Tensor, c2w: torch.Tensor, intrinsics: torch.Tensor) -> Context:
        """images [B,K,3,H,W] in [0,1], c2w [B,K,4,4], normalised intrinsics [B,K,4] -> Context."""
        batch, views = images.shape[:2]
        per_view = self.representation(images.flatten(0, 1), viewpoint(c2w.flatten(0, 1)).to(images.dtype))
        per_view = per_view.unflatten(0, (batch, views))
        if self.config.representation != "epipolar":
            return Context(r=per_view.sum(1), c2w=c2w, intrinsics=intrinsics)
        return Context(r=per_view.sum(1), c2w=c2w, intrinsics=intrinsics,
                       features=self.epipolar.features(per_view), images=images)

    def condition(self, context: Context, query_c2w: torch.Tensor,
                  query_intrinsics: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the generator sees for each query: r and v_q broadcast over its state grid, [B,C,h,w];
        with epipolar attention also what it gathers from the contexts, and the context pixels it
        found along each pixel's ray as a full-resolution skip input [B,4,H,W] (else None)."""
        side = self.config.state_size
        r = context.r.expand(-1, -1, side, side) if context.r.shape[-1] == 1 else context.r
        v = viewpoint(query_c2w)[:, :, None, None].to(r.dtype).expand(-1, -1, side, side)
        if context.features is None:
            return torch.cat([r, v], 1), None
        gathered, pixels = self.epipolar(context, query_c2w, query_intrinsics)
        unshuffled = F.pixel_unshuffle(pixels, self.config.r_scale)
        return torch.cat([r, v, gathered.to(r.dtype), unshuffled.to(r.dtype)], 1), pixels

    def forward(self, context_images: torch.Tensor, context_c2w: torch.Tensor, context_intrinsics: torch.Tensor,
                query_image: torch.Tensor, query_c2w: torch.Tensor, query_intrinsics: torch.Tensor,
                sigma: float, noise: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The negative ELBO, averaged over the batch (nats per image), with its NLL and KL parts."""
        with self.autocast():
            context = self.encode(context_images, context_c2w, context_intrinsics)
            cond, skip = self.condition(context, query_c2w, query_intrinsics)
            nll, kl, mean = self.generator.elbo(cond, query_image, sigma, noise, skip)
        return {"loss": (nll + kl).mean(), "nll": nll.mean(), "kl": kl.mean(), "mean": mean}

    @torch.inference_mode()
    def sample(self, context: Context, query_c2w: torch.Tensor, query_intrinsics: torch.Tensor,
               samples: int = 1, generator: torch.Generator | None = None, chunk: int = 64) -> torch.Tensor:
        """Prior samples for Q queries of one context set: [Q,S,3,H,W] in [0,1].

        The conditioning is computed once per query; queries × samples then go through the
        generator together, `chunk` at a time.
        """
        with self.autocast():
            parts = [self.condition(context.expand(len(query_c2w[part])), query_c2w[part], query_intrinsics[part])
                     for part in _chunks(len(query_c2w), chunk)]
            cond = torch.cat([p[0] for p in parts]).repeat_interleave(samples, 0)
            skip = None if parts[0][1] is None else torch.cat([p[1] for p in parts]).repeat_interleave(samples, 0)
            images = torch.cat([self.generator.sample(cond[part], generator, None if skip is None else skip[part])
                                for part in _chunks(len(cond), chunk)])
        return images.unflatten(0, (len(query_c2w), samples))

    # --- numpy in, numpy out: what the app, the CLI and tests call ---------------------------------

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.inference_mode()
    def encode_views(self, views: ViewSet) -> Context:
        """Encode a ViewSet's views as one context set (cache the result: it is reused per query)."""
        if len(views) == 0:
            raise GQNError("the context set is empty: give the model at least one view")
        if views.size[0] != self.config.image_size:
            warnings.warn(f"views are {views.size[0]} px, the model was trained on {self.config.image_size} px: "
                          "resizing them", stacklevel=2)
        device = self._device()
        images = images_to_tensor(views.images, self.config.image_size)[None].to(device)
        c2w = torch.as_tensor(views.c2w, dtype=torch.float32, device=device)[None]
        intrinsics = torch.as_tensor(views.normalised_intrinsics(), dtype=torch.float32, device=device)[None]
        with self.autocast():
            return self.encode(images, c2w, intrinsics)

    def sample_views(self, context: Context, query_c2w: np.ndarray, samples: int = 8, seed: int = 0,
                     query_intrinsics: np.ndarray | None = None) -> np.ndarray:
        """uint8 [Q,S,H,W,3] prior samples; the same seed gives the same pixels.

        query_intrinsics are normalised (fx/W, fy/H, cx/W, cy/H); by default the first context view's.
        """
        device = self._device()
        query = torch.as_tensor(np.asarray(query_c2w, np.float32).reshape(-1, 4, 4), device=device)
        if query_intrinsics is None:
            intr = context.intrinsics[0, :1].expand(len(query), -1)
        else:
            intr = torch.as_tensor(np.asarray(query_intrinsics, np.float32), device=device).reshape(-1, 4).expand(len(query), -1)
        generator = torch.Generator().manual_seed(seed)
        return tensor_to_images(self.sample(context, query, intr, samples, generator))

    def predict(self, views: ViewSet, query_c2w: np.ndarray, samples: int = 8, seed: int = 0,
                query_intrinsics: np.ndarray | None = None) -> np.ndarray:
        """What the model imagines at each query camera, given `views` as context: uint8 [Q,S,H,W,3]."""
        return self.sample_views(self.encode_views(views), query_c2w, samples, seed, query_intrinsics)

    def save(self, folder: str | Path, card: str | None = None) -> Path:
        from gqn.checkpoint import save_model
        return save_model(self, folder, card)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> GQN:
    """A model folder (model.safetensors + config.json) or a training run (its latest checkpoint),
    in eval mode. Raises GQNError naming the file when the folder is missing, foreign or truncated."""
    from gqn.checkpoint import read_model_folder
    config, state = read_model_folder(path)
    model = GQN(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        raise GQNError(f"{path}: the weights do not match config.json "
                       f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]})")
    model.load_state_dict(state)
    return model.to(device).eval()
