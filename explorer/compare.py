"""Generated view against a true one: sizes matched, error map, PSNR/SSIM. No Qt."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from gqn.metrics import psnr, ssim


@dataclass
class Comparison:
    truth: np.ndarray          # uint8 [H,W,3] the true image at the generated image's size
    error: np.ndarray          # float32 [H,W] mean |generated − true| over RGB, in [0,1]
    psnr: float
    ssim: float | None         # None when not asked for (drafts: it costs more than the rest)


def match_size(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    """`image` centre-cropped to the aspect of `like` and resized to its size."""
    height, width = like.shape[:2]
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    aspect = width / height
    if w / h > aspect:
        crop = h * aspect
        box = ((w - crop) / 2, 0.0, (w + crop) / 2, float(h))
    else:
        crop = w / aspect
        box = (0.0, (h - crop) / 2, float(w), (h + crop) / 2)
    return np.array(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS, box=box))


def compare(generated: np.ndarray, truth: np.ndarray, with_ssim: bool = True) -> Comparison:
    truth = match_size(truth, generated)
    error = np.abs(generated.astype(np.float32) - truth.astype(np.float32)).mean(-1) / 255.0
    return Comparison(truth, error, float(psnr(generated, truth)),
                      float(ssim(generated, truth)) if with_ssim else None)
