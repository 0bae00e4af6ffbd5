"""One config for the model, one for training, and the named presets.

A model folder's config.json is `ModelConfig` as a dict, so a folder alone rebuilds its model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelConfig:
    image_size: int = 64            # training images (square), pixels; at inference the long side of every view
    representation: str = "tower"   # "tower" | "pool" | "epipolar"
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
    trained_on: dict[str, Any] = field(default_factory=dict)

    @property
    def state_size(self) -> int:
        return self.image_size // self.r_scale

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
        if self.representation not in ("tower", "pool", "epipolar"):
            raise ValueError(f"representation must be tower, pool or epipolar, not {self.representation!r}")
        if self.r_scale < 1 or self.r_scale & (self.r_scale - 1):
            raise ValueError(f"r_scale must be a power of two, not {self.r_scale}")
        if self.image_size % self.r_scale:
            raise ValueError(f"image_size {self.image_size} is not divisible by r_scale {self.r_scale}")


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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
}


def preset(name: str) -> ModelConfig:
    """A fresh copy of a named preset (presets are shared; never mutate them)."""
    if name not in presets:
        raise KeyError(f"unknown preset {name!r}; choose from {', '.join(presets)}")
    return dataclasses.replace(presets[name], trained_on={})
