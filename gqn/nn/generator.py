"""ConvDRAW: the GQN generation network, L recurrent steps with a latent z per step.

Cost choices (measured figures in README / benchmarks):
- Inputs that stay constant across the L steps (the conditioning r, v_q and, in training, the
  target image) are convolved once per image into gate biases, not L times.
- The canvas lives at the state resolution with canvas_channels·s² channels and is pixel-shuffled to
  full resolution once at the end. A 4×4 stride-4 transposed conv (the paper's Δ) is exactly a 1×1
  conv followed by a pixel shuffle, so this is the paper's canvas at a fraction of the cost; a 3×3
  conv at full resolution then smooths the seams between the s×s blocks.
- The inference core reads the target as a space-to-depth tensor (lossless, no conv at full size)
  and the generator state h_g, which already carries what the canvas holds.

A residual generator (the photo model) paints a correction over a colour it is given. Trained on the
ELBO, that correction is fitted with the posterior's latent, which has seen the target; drawn from
the prior it is a guess, and averaged over a few samples it made the photo model's images worse
than the colour alone (0.55 dB on 10 unseen captures). `trust_gate` adds a per-pixel gate in (0, 1)
on the correction, trained on what is shown: the mean of prior samples against the truth
(`trust_nll`), with the rest of the model held still for it. It learns where the generator knows
better than the colour (where no photo saw the surface) and where it does not.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from gqn.config import ModelConfig
from gqn.nn.convlstm import ConvLSTMCell

LOG_2PI = math.log(2 * math.pi)
RESIDUAL_EPS = 1e-3   # a residual head's base colour is kept this far inside (0, 1), where its logit is finite
TRUST_SAMPLES = 2     # prior samples whose mean trains the trust gate (each costs a generator pass without gradients)
TRUST_HIDDEN = 8      # channels inside the trust gate


def gaussian_kl(mu_q: torch.Tensor, logstd_q: torch.Tensor, mu_p: torch.Tensor, logstd_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_q, std_q²) ‖ N(mu_p, std_p²)) per element."""
    var_ratio = torch.exp(2 * (logstd_q - logstd_p))
    mean_term = ((mu_q - mu_p) * torch.exp(-logstd_p)) ** 2
    return logstd_p - logstd_q + 0.5 * (var_ratio + mean_term - 1)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, sigma: float) -> torch.Tensor:
    """-log N(x; mean, sigma²) per element."""
    return 0.5 * ((x - mean) / sigma) ** 2 + math.log(sigma) + 0.5 * LOG_2PI


class Generator(nn.Module):
    def __init__(self, config: ModelConfig, cond_channels: int, skip_channels: int = 0, residual: bool = False,
                 trust_gate: bool = False) -> None:
        super().__init__()
        self.config = config
        self.residual = residual
        h, z, k, s = config.h_channels, config.z_channels, config.kernel, config.r_scale
        cores = 1 if config.shared_core else config.steps
        self.generation_cores = nn.ModuleList(ConvLSTMCell(z, h, k) for _ in range(cores))
        self.inference_cores = nn.ModuleList(ConvLSTMCell(h, h, k) for _ in range(cores))
        self.generation_input = nn.Conv2d(cond_channels, 4 * h, k, padding=k // 2)
        self.inference_input = nn.Conv2d(cond_channels + 3 * s * s, 4 * h, k, padding=k // 2)
        self.prior = nn.Conv2d(h, 2 * z, k, padding=k // 2)
        self.posterior = nn.Conv2d(h, 2 * z, k, padding=k // 2)
        self.canvas_update = nn.Conv2d(h, config.canvas_channels * s * s, 1)
        self.head = nn.Conv2d(config.canvas_channels + skip_channels, 3, 3, padding=1)
        if residual:   # starts as exactly the skip's colour
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        self.trust = None
        if trust_gate:   # starts trusting half of the correction everywhere
            self.trust = nn.Sequential(nn.Conv2d(config.canvas_channels + skip_channels, TRUST_HIDDEN, 3, padding=1),
                                       nn.ReLU(), nn.Conv2d(TRUST_HIDDEN, 1, 1))
            nn.init.zeros_(self.trust[-1].weight)
            nn.init.zeros_(self.trust[-1].bias)

    def _core(self, cores: nn.ModuleList, step: int) -> ConvLSTMCell:
        return cores[step if len(cores) > 1 else 0]

    def _zeros(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (cond.shape[0], self.config.h_channels, *cond.shape[-2:])
        return cond.new_zeros(shape, dtype=torch.float32), cond.new_zeros(shape, dtype=torch.float32)

    def _correction(self, canvas: torch.Tensor, skip: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Canvas at state resolution -> the head's input at full resolution (with the skip) and its
        output logits, fp32."""
        full = F.pixel_shuffle(canvas, self.config.r_scale)
        if skip is not None:
            full = torch.cat([full, skip.to(full.dtype)], 1)
        return full, self.head(full).float()

    def _compose(self, full: torch.Tensor, logits: torch.Tensor, skip: torch.Tensor | None, trusted: bool) -> torch.Tensor:
        """The head's logits -> mean image in [0,1]; `residual`: a correction, in logits, of the skip's
        first three channels (a colour), scaled by the trust gate when `trusted`."""
        if self.residual:
            if trusted and self.trust is not None:
                logits = logits * torch.sigmoid(self.trust(full).float())
            logits = logits + torch.logit(skip[:, :3].float().clamp(RESIDUAL_EPS, 1 - RESIDUAL_EPS))
        return torch.sigmoid(logits)

    def _image(self, canvas: torch.Tensor, skip: torch.Tensor | None, trusted: bool = True) -> torch.Tensor:
        """Canvas at state resolution (+ full-resolution skip input) -> mean image in [0,1], fp32."""
        return self._compose(*self._correction(canvas, skip), skip, trusted)

    def elbo(self, cond: torch.Tensor, target: torch.Tensor, sigma: float,
             noise: torch.Tensor | None = None, skip: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-image NLL and KL (nats), and the reconstruction, sampling z from the posterior.

        cond [B,C,h,w], target [B,3,H,W] in [0,1]; noise [L,B,z,h,w] makes z reproducible
        (the trainer draws it for the whole global batch, so many processes equal one); skip [B,c,H,W]
        joins the canvas at full resolution (epipolar context pixels).
        """
        generation_bias = self.generation_input(cond)
        inference_bias = self.inference_input(torch.cat([cond, F.pixel_unshuffle(target, self.config.r_scale).to(cond.dtype)], 1))
        h_g, c_g = self._zeros(cond)
        h_e, c_e = self._zeros(cond)
        canvas = 0.0
        kl = cond.new_zeros(cond.shape[0], dtype=torch.float32)
        for step in range(self.config.steps):
            mu_p, logstd_p = self.prior(h_g).float().chunk(2, 1)
            h_e, c_e = self._core(self.inference_cores, step)(h_g, (h_e, c_e), inference_bias)
            mu_q, logstd_q = self.posterior(h_e).float().chunk(2, 1)
            eps = torch.randn_like(mu_q) if noise is None else noise[step]
            z = mu_q + torch.exp(logstd_q) * eps
            h_g, c_g = self._core(self.generation_cores, step)(z, (h_g, c_g), generation_bias)
            canvas = canvas + self.canvas_update(h_g).float()
            kl = kl + gaussian_kl(mu_q, logstd_q, mu_p, logstd_p).sum(dim=(1, 2, 3))
        mean = self._image(canvas, skip, trusted=False)
        nll = gaussian_nll(target, mean, sigma).sum(dim=(1, 2, 3))
        return nll, kl, mean

    def trust_nll(self, cond: torch.Tensor, target: torch.Tensor, sigma: float, skip: torch.Tensor | None,
                  noise: torch.Tensor | None = None) -> torch.Tensor:
        """Per-image NLL of the mean of TRUST_SAMPLES prior samples, as predictions are shown; its
        gradient reaches the trust gate alone. noise: the batch's [L·(1 + TRUST_SAMPLES),B,z,h,w], the
        posterior's L steps (elbo) then each prior sample's, makes the samples reproducible."""
        skip = None if skip is None else skip.detach()
        draws = [None] * TRUST_SAMPLES if noise is None else noise.split(self.config.steps)[1:]
        with torch.no_grad():
            drawn = [self._correction(self._prior_canvas(cond, noise=part), skip) for part in draws]
        mean = torch.stack([self._compose(full, logits, skip, trusted=True) for full, logits in drawn]).mean(0)
        return gaussian_nll(target, mean, sigma).sum(dim=(1, 2, 3))

    def _prior_canvas(self, cond: torch.Tensor, generator: torch.Generator | None = None,
                      noise: torch.Tensor | None = None) -> torch.Tensor:
        """The canvas of one prior sample; z's noise drawn from `generator`, or given as noise [L,B,z,h,w]."""
        generation_bias = self.generation_input(cond)
        h_g, c_g = self._zeros(cond)
        canvas = 0.0
        for step in range(self.config.steps):
            mu_p, logstd_p = self.prior(h_g).float().chunk(2, 1)
            if noise is None:   # CPU draws: the same pixels on any device
                eps = torch.randn(mu_p.shape, generator=generator).to(mu_p.device)
            else:
                eps = noise[step]
            z = mu_p + torch.exp(logstd_p) * eps
            h_g, c_g = self._core(self.generation_cores, step)(z, (h_g, c_g), generation_bias)
            canvas = canvas + self.canvas_update(h_g).float()
        return canvas

    def sample(self, cond: torch.Tensor, generator: torch.Generator | None = None,
               skip: torch.Tensor | None = None) -> torch.Tensor:
        """Images drawn from the prior (never the posterior at test time): [B,3,H,W] in [0,1]."""
        return self._image(self._prior_canvas(cond, generator), skip)
