"""One config for the model, one for training, and the named presets.

A model folder's config.json is `ModelConfig` as a dict, so a folder alone rebuilds its model.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelConfig:
    image_size: int = 64            # training images (square), pixels; at inference the long side of every view
    representation: str = "tower"   # "tower" | "pool" | "epipolar" | "sweep" (gqn.nn.sweep, the photo model)
    tower_channels: int = 64        # width inside the representation network
    r_channels: int = 64            # channels of the summed representation r
    r_scale: int = 4                # image_size / r_scale = the generator's state resolution
    h_channels: int = 64            # ConvLSTM hidden channels
    z_channels: int = 4             # latent channels per step
    steps: int = 8                  # L, generation steps
    shared_core: bool = True        # one ConvLSTM core for all steps, or one per step
    kernel: int = 3                 # ConvLSTM / prior / posterior kernel size
    canvas_channels: int = 4        # canvas channels at full resolution (stored pixel-shuffled)
    bf16: bool = True               # convolutions under bf16 autocast; LSTM cell state and losses stay fp32
    epipolar_samples: int = 16      # depths sampled along each query ray = points on each epipolar line
    epipolar_channels: int = 32     # context feature channels the attention samples
    epipolar_near: float = 0.5      # depth range of those samples, in scene units (model space);
    epipolar_far: float = 20.0      # `gqn train` sets both from the training data
    contexts: int = 5               # K: each query is rendered from the K views nearest to it
    point_candidates: int = 0       # "sweep": depths of this many nearest sparse points offered per pixel beside the sweep's
    context_scale: float = 1.0      # contexts are read at this multiple of the query's scale: colours warped from
                                    # them stay sharp (a bilinear read of a photo at the query's own scale blurs it)
    trust_gate: bool = False        # residual generators: a learned per-pixel gate on the correction shown at sampling
                                    # (gqn.nn.generator), trained on the mean of prior samples
    trained_on: dict[str, Any] = field(default_factory=dict)

    @property
    def state_size(self) -> int:
        return self.image_size // self.r_scale

    @property
    def context_side(self) -> int:
        """Long side of the contexts in pixels: the queries' (image_size) times context_scale."""
        return round(self.image_size * self.context_scale)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**data)

    def validate(self) -> None:
        """Types and ranges of every field, so that a config.json from anywhere fails here with the
        field's name, not deep inside torch (the size it implies is checked by gqn.checkpoint)."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = {"int": int, "float": (int, float), "bool": bool, "str": str}.get(f.type, dict)
            if not isinstance(value, kind) or (isinstance(value, bool) and f.type != "bool"):
                raise ValueError(f"{f.name} must be {_TYPE_NAMES.get(f.type, 'a JSON object')}, not {value!r:.40}")
            if f.type == "float" and not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number, not {value!r}")
            low, high = RANGES.get(f.name, (None, None))
            if low is not None and not low <= value <= high:
                raise ValueError(f"{f.name} must be between {low} and {high}, not {value}")
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be {', '.join(REPRESENTATIONS)}, not {self.representation!r:.40}")
        if self.r_scale & (self.r_scale - 1):
            raise ValueError(f"r_scale must be a power of two, not {self.r_scale}")
        if self.image_size % self.r_scale:
            raise ValueError(f"image_size {self.image_size} is not divisible by r_scale {self.r_scale}")
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (the convolutions keep their input's size), not {self.kernel}")
        if not self.epipolar_near < self.epipolar_far:
            raise ValueError(f"epipolar_near {self.epipolar_near} must be less than epipolar_far {self.epipolar_far}")
        _validate_trained_on(self.trained_on)


REPRESENTATIONS = ("tower", "pool", "epipolar", "sweep")
_TYPE_NAMES = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a name"}
# Wide enough for every preset and for anything a few GPUs could train; narrow enough that no
# config.json makes torch allocate without bound (gqn.checkpoint also caps the parameter count).
RANGES = {"image_size": (8, 1024), "tower_channels": (1, 4096), "r_channels": (1, 4096), "r_scale": (1, 64),
          "h_channels": (1, 4096), "z_channels": (1, 256), "steps": (1, 64), "kernel": (1, 15),
          "canvas_channels": (1, 256), "epipolar_samples": (1, 256), "epipolar_channels": (1, 4096),
          "epipolar_near": (1e-6, 1e6), "epipolar_far": (1e-6, 1e6),
          "point_candidates": (0, 16), "context_scale": (1.0, 4.0)}
# The keys of `trained_on` that code reads, and what each must be.
TRAINED_ON = {"kind": str, "data": str, "size": int, "views": int, "scenes": int, "seed": int,
              "fov_deg": float, "camera_radius": float, "sigma": float}


def _validate_trained_on(trained_on: dict[str, Any]) -> None:
    for key, kind in TRAINED_ON.items():
        value = trained_on.get(key)
        if value is None:
            continue
        ok = (isinstance(value, str) if kind is str else
              isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and
              (value == int(value) if kind is int else True) and (value > 0 or key == "seed"))
        if not ok:
            what = "a name" if kind is str else "a whole number" if kind is int else "a positive number"
            raise ValueError(f"trained_on.{key} must be {what}, not {value!r:.40}")


@dataclass
class TrainConfig:
    steps: int = 20000
    batch: int = 32
    max_contexts: int = 5           # contexts per scene drawn uniformly from 1..max_contexts
    lr_start: float = 5e-4
    lr_end: float = 5e-5
    lr_anneal_fraction: float = 1.0     # lr reaches lr_end at this fraction of `steps` (paper: 1.6M of 2M)
    sigma_start: float = 2.0
    sigma_end: float = 0.7
    sigma_anneal_fraction: float = 0.5  # sigma reaches sigma_end at this fraction of `steps` (paper: 200k)
    seed: int = 0
    checkpoint_every: int = 500
    log_every: int = 10
    max_minutes: float | None = None
    crop: int | None = None         # query windows of this long side (pixels); None: whole views

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# The most parameters a model folder may ask for: 200 MB of float32 weights, 13× the paper's model.
MAX_PARAMETERS = 50_000_000

presets: dict[str, ModelConfig] = {
    # For tests: trains and samples in milliseconds.
    "tiny": ModelConfig(image_size=32, tower_channels=16, r_channels=16, r_scale=4, h_channels=16,
                        z_channels=2, steps=3, canvas_channels=2, bf16=False),
    # The paper's sizes: tower r = 256 at 16×16, L = 12, h = 128, z = 3, 5×5 kernels.
    "paper": ModelConfig(image_size=64, tower_channels=256, r_channels=256, r_scale=4, h_channels=128,
                         z_channels=3, steps=12, kernel=5, canvas_channels=8),
    # Ours: the best we can train on 2 CPU cores in a few hours (see README for its figures).
    "default": ModelConfig(),
    # `default` with epipolar cross-attention over the context features.
    "epipolar": ModelConfig(representation="epipolar"),
    # Real captures: a learned plane sweep over 32 depths (gqn.nn.sweep) under a small ConvDRAW.
    "photo": ModelConfig(image_size=128, representation="sweep", tower_channels=32, epipolar_channels=8,
                         epipolar_samples=32, h_channels=32, z_channels=4, steps=4, contexts=5,
                         point_candidates=4, context_scale=1.5, trust_gate=True),
}


def preset(name: str) -> ModelConfig:
    """A fresh copy of a named preset (presets are shared; never mutate them)."""
    if name not in presets:
        raise KeyError(f"unknown preset {name!r}; choose from {', '.join(presets)}")
    return dataclasses.replace(presets[name], trained_on={})
