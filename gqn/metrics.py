"""Image quality: PSNR and SSIM, per image, batched, for numpy arrays or torch tensors.

Images are channels-last like everywhere else in the project: [..., H, W, C], uint8 (0..255) or
float in [0, 1]. The result has the leading shape [...] and the type of the input (numpy in,
numpy out; torch in, torch out).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

Images = np.ndarray | torch.Tensor

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _as_float(images: Images) -> torch.Tensor:
    """uint8 or float images -> float tensor in [0,1] (float64 for numpy input: exact references)."""
    read_only = isinstance(images, np.ndarray) and not images.flags.writeable
    x = torch.as_tensor(images.copy() if read_only else images)   # torch wants writable memory
    if isinstance(images, np.ndarray):
        dtype = torch.float64
    else:
        dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    return x.to(dtype) / 255.0 if x.dtype == torch.uint8 else x.to(dtype)


def _like(result: torch.Tensor, reference: Images) -> Images:
    return result.cpu().numpy() if isinstance(reference, np.ndarray) else result


def _pair(a: Images, b: Images) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _as_float(a), _as_float(b)
    dtype = torch.promote_types(x.dtype, y.dtype)
    x, y = torch.broadcast_tensors(x.to(dtype), y.to(device=x.device, dtype=dtype))
    if x.dim() < 3:
        raise ValueError(f"images must be [..., H, W, C], got shape {tuple(x.shape)}")
    return x, y


def psnr(a: Images, b: Images) -> Images:
    """Peak signal-to-noise ratio in dB per image (peak 1.0, i.e. 255 for uint8); identical → inf."""
    x, y = _pair(a, b)
    mse = ((x - y) ** 2).mean(dim=(-3, -2, -1))
    return _like(10 * torch.log10(1.0 / mse), a)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """Normalised 1-D Gaussian of `size` taps; the 2-D window is its outer product."""
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    window = torch.exp(-(offsets**2) / (2 * sigma**2))
    return window / window.sum()


def ssim(a: Images, b: Images) -> Images:
    """Structural similarity (Wang et al. 2004) per image: 11×11 Gaussian window σ=1.5, K1=0.01,
    K2=0.03, data range 1, 'valid' filtering (as MATLAB's reference and tf.image.ssim); the SSIM
    map is computed per channel and averaged over pixels and channels. Identical images → 1."""
    x, y = _pair(a, b)
    height, width, channels = x.shape[-3:]
    if min(height, width) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}×{SSIM_WINDOW} pixels, got {height}×{width}")
    lead = x.shape[:-3]
    # [..., H, W, C] -> [N·C, 1, H, W]: every channel of every image filtered independently.
    x = x.reshape(-1, height, width, channels).permute(0, 3, 1, 2).reshape(-1, 1, height, width)
    y = y.reshape(-1, height, width, channels).permute(0, 3, 1, 2).reshape(-1, 1, height, width)
    g = gaussian_window().to(device=x.device, dtype=x.dtype)

    def blur(t: torch.Tensor) -> torch.Tensor:  # separable: rows then columns
        return F.conv2d(F.conv2d(t, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1))

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    per_image = ssim_map.reshape(-1, channels, *ssim_map.shape[-2:]).mean(dim=(1, 2, 3))
    return _like(per_image.reshape(lead), a)
