"""Photos from disk into uint8 RGB arrays: EXIF orientation, downscaled while decoding, one common size.

Large photos are never held at full size: JPEG decoding is asked for a reduced scale (Image.draft)
and every photo is shrunk before the next one is opened. Intrinsics follow every resize and crop.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_MAX_SIZE = 800          # longest side of loaded photos, pixels
MAX_PIXELS = 120_000_000        # more than any camera's photo (108 MP phones); checked from the header
MAX_FILE_BYTES = 512 << 20      # an uncompressed 120 MP TIFF is 360 MB
_EXIF_ORIENTATION = 0x0112
_TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)  # these swap width and height


class ImageLoadError(Exception):
    """One photo cannot be used; the message is the reason that goes into ViewSet.skipped."""


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def is_regular_file(path: Path) -> bool:
    """Path.is_file, but False (not an exception) for a name the OS refuses: too long, a NUL byte."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside `folder` (by extension), sorted by name; hidden files left out."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and is_image_file(p) and not p.name.startswith("."))


def _check_file(path: Path) -> None:
    try:
        size = path.stat().st_size if path.is_file() else None
    except (OSError, ValueError) as error:  # a name too long, a NUL byte, a link loop
        raise ImageLoadError(f"cannot be opened ({getattr(error, 'strerror', None) or error})") from None
    if size is None:
        raise ImageLoadError("file not found")
    if size == 0:
        raise ImageLoadError("empty file (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise ImageLoadError(f"{size / 2**20:.0f} MB; more than any photo ({MAX_FILE_BYTES >> 20} MB at most)")


def open_image(source: Path | BinaryIO) -> Image.Image:
    """A PIL image with only its header read, refused when the header claims no pixels or more than
    MAX_PIXELS: a bad header costs nothing, whatever size it claims."""
    try:
        image = Image.open(source)
    except Image.DecompressionBombError as error:  # PIL's own limit, checked inside open (2× its warning)
        claimed = re.search(r"\((\d+) pixels\)", str(error))
        raise ImageLoadError(_too_large(f"{claimed[1] if claimed else 'too many'} pixels")) from None
    except UnidentifiedImageError:
        raise ImageLoadError("not an image (unknown or corrupt header)") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageLoadError(f"truncated or corrupt image header ({error})") from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        image.close()
        raise ImageLoadError(f"its header claims {width}×{height} pixels, an image needs at least one"
                             if width < 1 or height < 1 else _too_large(f"{width}×{height} pixels"))
    return image


def _too_large(claimed: str) -> str:
    return f"its header claims {claimed}, more than {MAX_PIXELS // 1_000_000} megapixels: refused before decoding"


def _oriented_size(image: Image.Image, honour_exif: bool) -> tuple[int, int]:
    width, height = image.size
    if honour_exif and image.getexif().get(_EXIF_ORIENTATION, 1) in _TRANSPOSED_ORIENTATIONS:
        return height, width
    return width, height


def image_size(path: Path, honour_exif: bool = True) -> tuple[int, int]:
    """(width, height) as the photo will be shown, read from the header only."""
    _check_file(path)
    with open_image(path) as image:
        try:
            return _oriented_size(image, honour_exif)
        except (OSError, ValueError, SyntaxError) as error:
            raise ImageLoadError(f"not a readable image ({error})") from None


def load_image(path: Path, max_size: int | None = DEFAULT_MAX_SIZE, honour_exif: bool = True
               ) -> tuple[np.ndarray, tuple[int, int]]:
    """(uint8 [H,W,3] with its longest side <= max_size, the photo's full (width, height)).

    Transparent images are composited onto white (the NeRF synthetic convention).
    """
    _check_file(path)
    # From memory, not the file: PIL trusts a PNG chunk's length and would read(2**32) from a file
    # whose IDAT length is corrupt; a BytesIO returns what is there. The file's bytes are far
    # fewer than the pixels decoded from them.
    with open_image(io.BytesIO(path.read_bytes())) as image:
        try:
            return decode(image, max_size, honour_exif)
        except (OSError, ValueError, SyntaxError) as error:
            raise ImageLoadError(f"truncated or corrupt image data ({error})") from None


def decode(image: Image.Image, max_size: int | None = DEFAULT_MAX_SIZE, honour_exif: bool = True
           ) -> tuple[np.ndarray, tuple[int, int]]:
    """An image opened by open_image, decoded (downscaled while decoding where the format allows)."""
    full_size = _oriented_size(image, honour_exif)
    if max_size and max(image.size) > max_size:
        scale = max_size / max(image.size)
        image.draft("RGB", (max(1, int(image.width * scale)), max(1, int(image.height * scale))))
    image.load()  # the one full-size copy: at most MAX_PIXELS × 4 bytes (PIL keeps RGB as RGBX)
    if max_size and max(image.size) > max_size:
        image.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    if honour_exif:  # after shrinking, so that no second full-size copy is made
        image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    if pixels.size == 0:
        raise ImageLoadError("image has no pixels")
    return pixels, full_size


def scale_intrinsics(intrinsics: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """(fx, fy, cx, cy) for the same view resized from (width, height) `from_size` to `to_size`."""
    sx, sy = to_size[0] / from_size[0], to_size[1] / from_size[1]
    return np.asarray(intrinsics, np.float64) * [sx, sy, sx, sy]


def crop_and_resize(image: np.ndarray, intrinsics: np.ndarray, box: tuple[float, float, float, float],
                    size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Crop `box` (left, top, right, bottom) and resize to (width, height) with antialiasing."""
    left, top, right, bottom = box
    pil = Image.fromarray(image).resize(size, Image.Resampling.LANCZOS, box=(left, top, right, bottom),
                                        reducing_gap=3.0)
    fx, fy, cx, cy = np.asarray(intrinsics, np.float64)
    sx, sy = size[0] / (right - left), size[1] / (bottom - top)
    return np.asarray(pil), np.array([fx * sx, fy * sy, (cx - left) * sx, (cy - top) * sy])


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 [H,W,3] resized whole to size = (height, width) as fit_image resizes (Lanczos): what a
    model reads of a photo must be as sharp as the truth it is scored against (bilinear, even
    antialiased, blurred the photo model's contexts by ~0.9 dB on 256-px captures)."""
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    return crop_and_resize(image, np.zeros(4), (0.0, 0.0, float(image.shape[1]), float(image.shape[0])),
                           (width, height))[0]


def centre_crop_box(width: int, height: int, aspect: float) -> tuple[float, float, float, float]:
    """The largest centred box of the given width/height `aspect` inside a width × height image."""
    if width / height > aspect:
        crop = height * aspect
        return ((width - crop) / 2, 0.0, (width + crop) / 2, float(height))
    crop = width / aspect
    return (0.0, (height - crop) / 2, float(width), (height + crop) / 2)


def working_size(height: int, width: int, long_side: int, multiple: int = 1) -> tuple[int, int]:
    """(height, width) with the aspect of height×width and the long side about `long_side`, both sides
    multiples of `multiple` (the generator's cells, for model inputs). Normalised intrinsics hold at
    any size, so this is how views and queries are sized for the model."""
    scale = long_side / max(height, width)
    return (max(multiple, round(height * scale / multiple) * multiple),
            max(multiple, round(width * scale / multiple) * multiple))


def fit_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 [H,W,3] centre-cropped to the aspect of size = (height, width) and resized to it."""
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    box = centre_crop_box(image.shape[1], image.shape[0], width / height)
    return crop_and_resize(image, np.zeros(4), box, (width, height))[0]


def to_common_size(images: list[np.ndarray], intrinsics: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stack views of different sizes: the most common size wins, the others are centre-cropped to its
    aspect and resized to it."""
    sizes = [(im.shape[1], im.shape[0]) for im in images]
    width, height = Counter(sizes).most_common(1)[0][0]
    out_images, out_intrinsics = [], []
    for image, k, (w, h) in zip(images, intrinsics, sizes):
        if (w, h) != (width, height):
            image, k = crop_and_resize(image, k, centre_crop_box(w, h, width / height), (width, height))
        out_images.append(image)
        out_intrinsics.append(k)
    return np.stack(out_images), np.array(out_intrinsics, np.float64)


def random_crop(image: np.ndarray, intrinsics: np.ndarray, size: tuple[int, int], rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """A random (height, width) `size` window of `image` [H,W,...] with its pixel intrinsics (the
    principal point moves, the focal lengths stay), and its (top, left) so that per-pixel maps of the
    same view (depth) can be cut alike. Training on 64-px crops of 128-px views costs what 64-px
    views cost while the model still sees 128-px detail and off-centre principal points."""
    height, width = image.shape[:2]
    crop_h, crop_w = size
    if not (0 < crop_h <= height and 0 < crop_w <= width):
        raise ValueError(f"crop {size} does not fit in an image of {(height, width)}")
    top, left = int(rng.integers(0, height - crop_h + 1)), int(rng.integers(0, width - crop_w + 1))
    fx, fy, cx, cy = np.asarray(intrinsics, np.float64)
    return image[top:top + crop_h, left:left + crop_w], np.array([fx, fy, cx - left, cy - top]), (top, left)
