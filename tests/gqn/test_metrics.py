import math

import numpy as np
import pytest
import torch

from gqn.metrics import gaussian_window, psnr, ssim


def noisy(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    return np.clip(image + np.random.default_rng(seed).normal(0.0, sigma, image.shape), 0.0, 1.0)


def smooth_image(size: int = 32, seed: int = 0) -> np.ndarray:
    """A float [H,W,3] picture with structure (gradients and a square), values in [0.2, 0.8]."""
    y, x = np.mgrid[0:size, 0:size] / size
    rgb = np.stack([0.2 + 0.6 * x, 0.2 + 0.6 * y, 0.5 + 0.3 * np.sin(6 * x * y + seed)], -1)
    rgb[size // 4: size // 2, size // 4: size // 2] = [0.8, 0.2, 0.3]
    return rgb


def reference_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM written out window by window, the way Wang et al. 2004 define it."""
    g = gaussian_window().numpy()
    window = np.outer(g, g)
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for channel in range(a.shape[-1]):
        x, y = a[..., channel], b[..., channel]
        for i in range(x.shape[0] - 10):
            for j in range(x.shape[1] - 10):
                px, py = x[i:i + 11, j:j + 11], y[i:i + 11, j:j + 11]
                mx, my = (window * px).sum(), (window * py).sum()
                vx, vy = (window * px * px).sum() - mx**2, (window * py * py).sum() - my**2
                cov = (window * px * py).sum() - mx * my
                values.append((2 * mx * my + c1) * (2 * cov + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(values))


def test_identical_images_score_infinity_and_one():
    image = (smooth_image() * 255).astype(np.uint8)
    assert psnr(image, image) == math.inf
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)
    t = torch.from_numpy(smooth_image()).float()
    assert torch.isinf(psnr(t, t)) and ssim(t, t).item() == pytest.approx(1.0, abs=1e-5)


def test_psnr_of_a_known_error():
    image = np.full((16, 16, 3), 0.5)
    checker = np.where((np.indices((16, 16)).sum(0) % 2)[..., None] == 0, 0.1, -0.1)
    assert psnr(image, image + checker) == pytest.approx(20.0, abs=1e-9)   # MSE 0.01 → 20 dB
    assert psnr(image, image + 0.01) == pytest.approx(40.0, abs=1e-9)


def test_uint8_and_float_agree_and_batches_keep_their_shape():
    a = np.random.default_rng(0).integers(0, 256, (2, 3, 16, 16, 3), dtype=np.uint8)
    b = np.random.default_rng(1).integers(0, 256, (2, 3, 16, 16, 3), dtype=np.uint8)
    assert psnr(a, b).shape == (2, 3) and ssim(a, b).shape == (2, 3)
    np.testing.assert_allclose(psnr(a, b), psnr(a / 255.0, b / 255.0), rtol=1e-12)
    np.testing.assert_allclose(ssim(a, b), ssim(a / 255.0, b / 255.0), rtol=1e-12)
    np.testing.assert_allclose(ssim(a, b)[1, 2], ssim(a[1, 2], b[1, 2]), rtol=1e-12)
    as_torch = ssim(torch.from_numpy(a), torch.from_numpy(b))
    assert isinstance(as_torch, torch.Tensor)
    np.testing.assert_allclose(as_torch.numpy(), ssim(a, b), atol=1e-5)


def test_ssim_matches_the_window_by_window_definition():
    a = smooth_image(14)[:13]
    b = noisy(a, 0.1)
    assert ssim(a, b) == pytest.approx(reference_ssim(a, b), abs=1e-12)


def test_ssim_is_symmetric_and_falls_with_noise():
    image = smooth_image()
    assert ssim(image, noisy(image, 0.1)) == pytest.approx(ssim(noisy(image, 0.1), image), abs=1e-12)
    scores = [ssim(image, noisy(image, sigma)) for sigma in (0.01, 0.03, 0.1, 0.3)]
    psnrs = [psnr(image, noisy(image, sigma)) for sigma in (0.01, 0.03, 0.1, 0.3)]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores
    assert all(a > b for a, b in zip(psnrs, psnrs[1:])), psnrs
    assert psnrs[0] == pytest.approx(40.0, abs=0.5)   # σ = 0.01 → MSE ≈ 1e-4


def test_ssim_rejects_images_smaller_than_its_window():
    with pytest.raises(ValueError, match="at least 11"):
        ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))
