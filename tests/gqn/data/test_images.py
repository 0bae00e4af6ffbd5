"""Photo loading: EXIF orientation, downscaling while decoding, one common size, unreadable files."""

import json

import numpy as np
import pytest
from PIL import Image

from gqn import camera, load_views
from gqn.data.images import (
    ImageLoadError, centre_crop_box, crop_and_resize, image_size, list_images, load_image, to_common_size,
)

ORIENTATION = 0x0112


def pattern(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 4, width // 4, 3), dtype=np.uint8)
    return np.repeat(np.repeat(small, 4, 0), 4, 1)


def save_rotated(path, upright: np.ndarray) -> None:
    """Store `upright` the way a phone held upright stores it: pixels turned, EXIF orientation 6 to undo it."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # "rotate 90° clockwise to display"
    Image.fromarray(np.ascontiguousarray(np.rot90(upright))).save(path, exif=exif)


def test_exif_orientation_is_honoured(tmp_path):
    upright = pattern(40, 60)
    path = tmp_path / "portrait.png"
    save_rotated(path, upright)
    pixels, full_size = load_image(path, max_size=None)
    np.testing.assert_array_equal(pixels, upright)
    assert full_size == (60, 40) == image_size(path)
    raw, raw_size = load_image(path, max_size=None, honour_exif=False)
    assert raw.shape == (60, 40, 3) and raw_size == (40, 60) == image_size(path, honour_exif=False)


def test_exif_orientation_in_a_posed_set(sets, tmp_path):
    path = sets.nerf(tmp_path)
    save_rotated(tmp_path / "images" / "view_01.png", sets.images[1])
    data = json.loads(path.read_text())
    data["frames"][1]["file_path"] = "images/view_01.png"
    path.write_text(json.dumps(data))
    views = load_views(path)
    assert views.skipped == []
    np.testing.assert_array_equal(views.images[1], sets.images[1])
    np.testing.assert_allclose(views.c2w[1], sets.c2w[1], atol=1e-9)


def test_large_photos_are_downscaled_while_loading(tmp_path):
    path = tmp_path / "big.jpg"
    Image.fromarray(pattern(600, 800)).save(path, quality=90)
    pixels, full_size = load_image(path, max_size=100)
    assert pixels.shape == (75, 100, 3) and full_size == (800, 600)
    assert abs(pixels.astype(float).mean() - pattern(600, 800).mean()) < 3


def test_downscaled_views_keep_consistent_intrinsics(sets, tmp_path):
    views = load_views(sets.nerf(tmp_path), max_size=80)
    assert views.size == (60, 80)
    np.testing.assert_allclose(views.intrinsics[0], sets.intrinsics / 2)


def test_transparent_images_are_composited_on_white(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:4, :, :3] = [10, 20, 30]
    rgba[:4, :, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "a.png")
    pixels, _ = load_image(tmp_path / "a.png")
    assert (pixels[:4] == [10, 20, 30]).all() and (pixels[4:] == 255).all()


@pytest.mark.parametrize("kind, reason", [("empty", "empty file"), ("text", "not an image"),
                                          ("truncated", "truncated"), ("missing", "not found")])
def test_unusable_files_say_why(tmp_path, kind, reason):
    path = tmp_path / "photo.jpg"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("hello, not a picture")
    elif kind == "truncated":
        Image.fromarray(pattern(64, 64)).save(path, quality=90)
        path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(ImageLoadError, match=reason):
        load_image(path)


def test_crop_and_resize_moves_pixels_where_the_intrinsics_say():
    intrinsics = camera.intrinsics_from_fov(200, 100, 70.0)
    point = np.array([0.3, -0.1, 2.0])
    (u, v), _ = camera.project(point, np.eye(4), intrinsics)
    image = np.zeros((100, 200, 3), np.uint8)
    image[int(v) - 2:int(v) + 2, int(u) - 2:int(u) + 2] = 255   # a 4×4 dot around the projection
    out, new_k = crop_and_resize(image, intrinsics, centre_crop_box(200, 100, 1.0), (50, 50))
    (u2, v2), _ = camera.project(point, np.eye(4), new_k)
    rows, cols = np.nonzero(out[..., 0] > 60)
    weights = out[rows, cols, 0].astype(float)
    centre = np.array([np.average(cols, weights=weights) + 0.5, np.average(rows, weights=weights) + 0.5])
    expected = (np.array([int(u), int(v)]) - [50.0, 0.0]) * 0.5  # the dot's centre, in the new image
    np.testing.assert_allclose([u2, v2], (np.array([u, v]) - [50.0, 0.0]) * 0.5)
    np.testing.assert_allclose(centre, expected, atol=0.3)


def test_views_of_different_sizes_meet_at_the_most_common_one():
    intrinsics = camera.intrinsics_from_fov(80, 60, 60.0)
    images = [pattern(60, 80, 0), pattern(60, 80, 1), pattern(120, 160, 2), pattern(80, 60, 3)]
    ks = [intrinsics, intrinsics, intrinsics * 2, camera.intrinsics_from_fov(60, 80, 45.0)]
    stacked, out_k = to_common_size(images, ks)
    assert stacked.shape == (4, 60, 80, 3)
    np.testing.assert_allclose(out_k[2], intrinsics)
    # The portrait view is centre-cropped to 60×45, then scaled by 80/60: its principal point stays central.
    np.testing.assert_allclose(out_k[3][2:], [40.0, 30.0])


def test_list_images_skips_other_files_and_hidden_ones(tmp_path):
    for name in ("b.JPG", "a.png", ".hidden.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.jpg").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.JPG"]


def test_random_crop_keeps_points_on_their_pixels():
    from gqn.data.images import random_crop

    rng = np.random.default_rng(0)
    image = pattern(64, 96)
    intrinsics = np.array([80.0, 80.0, 50.0, 30.0])
    c2w = camera.look_at(np.array([3.0, 1.0, 2.0]))
    point = np.array([0.2, -0.1, 0.3])
    (u, v), _ = camera.project(point, c2w, intrinsics)
    for _ in range(5):
        crop, crop_intrinsics, (top, left) = random_crop(image, intrinsics, (40, 48), rng)
        assert crop.shape == (40, 48, 3) and np.array_equal(crop, image[top:top + 40, left:left + 48])
        (cu, cv), _ = camera.project(point, c2w, crop_intrinsics)
        assert (cu, cv) == pytest.approx((u - left, v - top))
    with pytest.raises(ValueError):
        random_crop(image, intrinsics, (65, 10), rng)


def test_what_a_model_reads_of_a_photo_is_as_sharp_as_the_truth_it_is_scored_against():
    """Contexts (images_to_tensor) and the baselines' photos (photos_at) are resized as fit_image makes
    the held-out truth: Lanczos, aspect kept, not a blurrier bilinear."""
    from gqn.baselines.nearest import photos_at
    from gqn.data.images import fit_image
    from gqn.nn.model import images_to_tensor
    photos = np.stack([pattern(192, 256, seed) for seed in range(2)])
    truth = np.stack([fit_image(photo, (96, 128)) for photo in photos]).astype(np.float32) / 255.0
    np.testing.assert_allclose(images_to_tensor(photos, (96, 128)).permute(0, 2, 3, 1).numpy(), truth, atol=1e-6)
    np.testing.assert_allclose(photos_at(photos, 128).permute(0, 2, 3, 1).numpy(), truth, atol=1e-6)
    assert photos_at(photos, 64).shape == (2, 3, 48, 64)
