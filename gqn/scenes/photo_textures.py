"""The photo world's textures: procedural materials and natural photographs, with mip levels.

Why a fixed bank: making a 256² multi-octave texture costs milliseconds, a 128-px view a fraction of
one, so the textures are made once per process (same bank every time) and each capture varies them
with its own tint, scale and offset.

Natural images come from scikit-image's sample data that ships inside its wheel (read from the
installed package folder; nothing is fetched at run time — the pooch-downloaded samples are not
used). Their licences, as stated in skimage/data/_fetchers.py (scikit-image 0.26):
    astronaut.png  NASA, public domain          chelsea.png  CC0 (Stefan van der Walt)
    coffee.png     CC0 (Rachel Michetti)        rocket.jpg   SpaceX, public domain
    camera.png     CC0 (Lav Varshney)           coins.png    Brooklyn Museum, no known copyright restrictions
    hubble_deep_field.jpg  NASA, public domain  brick.png, gravel.png (CC0Textures), grass.png: CC0
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from gqn.data.photo_scene import smooth_upsampling
from gqn.scenes.geometry import hsv_to_rgb

SIZE = 256          # texels per side at mip level 0
LEVELS = 7          # 256 .. 4 texels
VARIANTS = 5        # textures per procedural family
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg")
GREY_PHOTOS = ("camera.png", "coins.png")                   # tinted by their material
MATERIAL_PHOTOS = ("brick.png", "gravel.png", "grass.png")  # grey too: floors, walls, ground


@dataclass(frozen=True)
class TextureBank:
    """All textures and their mip levels packed in one flat uint8 array (what the numba renderer takes).

    Level l holds every texture at SIZE >> l texels per side, [textures, s, s, 3] starting at offsets[l].
    `families` maps a family name ("wood", "photo", ...) to its texture ids.
    """

    texels: np.ndarray
    offsets: np.ndarray
    count: int
    families: dict[str, tuple[int, ...]]

    def level(self, level: int) -> np.ndarray:
        """uint8 [textures, s, s, 3] at one mip level (for tests and inspection)."""
        s = SIZE >> level
        return self.texels[self.offsets[level]:self.offsets[level] + self.count * s * s * 3].reshape(self.count, s, s, 3)


def skimage_data_folder() -> Path:
    """scikit-image's bundled sample data, found without importing scikit-image."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise ImportError("the photo world needs scikit-image's bundled sample images: pip install scikit-image")
    return Path(spec.origin).parent / "data"


def _photo(name: str) -> np.ndarray:
    """A bundled sample image, centre-cropped square, SIZE² RGB in [0,1]."""
    image = Image.open(skimage_data_folder() / name).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS, box=(left, top, left + side, top + side))
    return np.asarray(image, np.float32) / 255.0


# --- procedural families: [SIZE,SIZE,3] in [0,1] ---------------------------------------------------------

def _noise(rng: np.random.Generator, cells_y: tuple[int, ...], cells_x: tuple[int, ...] | None = None,
           persistence: float = 0.6) -> np.ndarray:
    """Zero-mean unit-std tileable value noise summed over octaves; different cells per axis make streaks."""
    cells_x = cells_x or cells_y
    out = np.zeros((SIZE, SIZE), np.float32)
    for octave, (cy, cx) in enumerate(zip(cells_y, cells_x)):
        grid = rng.uniform(-1.0, 1.0, (cy, cx)).astype(np.float32)
        out += persistence ** octave * (smooth_upsampling(SIZE, cy) @ grid @ smooth_upsampling(SIZE, cx).T)
    return (out - out.mean()) / (out.std() + 1e-6)


def _colour(rng: np.random.Generator, hue: tuple[float, float], sat: tuple[float, float],
            val: tuple[float, float]) -> np.ndarray:
    return hsv_to_rgb(rng.uniform(*hue) % 1.0, rng.uniform(*sat), rng.uniform(*val))


def _blend(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)[..., None]
    return a * (1 - t) + b * t


def _grain(rng: np.random.Generator, amount: float) -> np.ndarray:
    """Fine multiplicative speckle, as every real surface has."""
    return (1.0 + amount * _noise(rng, (64, 128), persistence=0.5))[..., None]


def stone(rng: np.random.Generator) -> np.ndarray:
    """Plaster, concrete, stone: two close colours mixed by multi-scale noise."""
    base = _colour(rng, (0.0, 1.0), (0.0, 0.25), (0.35, 0.9))
    other = np.clip(base * rng.uniform(0.6, 1.3, 3), 0, 1)
    mix = 0.5 + 0.3 * _noise(rng, (4, 8, 16, 32, 64))
    return _blend(base, other, mix) * _grain(rng, 0.06)


def wood(rng: np.random.Generator, planks: int = 1) -> np.ndarray:
    """Wood grain (rings stretched along x), optionally cut into planks with dark joints."""
    light = _colour(rng, (0.05, 0.11), (0.35, 0.7), (0.55, 0.9))
    dark = light * rng.uniform(0.45, 0.7)
    y = np.arange(SIZE, dtype=np.float32)[:, None] / SIZE
    rows = (y * planks).astype(int) + np.zeros((1, SIZE), int)
    warp = _noise(rng, (4, 8), (1, 2))
    rings = 0.5 + 0.5 * np.sin(2 * np.pi * (y * rng.uniform(6, 14) + 0.6 * warp + rows * 0.37))
    streaks = 0.5 + 0.25 * _noise(rng, (64, 128), (2, 4))
    out = _blend(light, dark, 0.55 * rings ** 3 + 0.45 * streaks)
    out *= rng.uniform(0.75, 1.25, planks)[rows][..., None]  # each plank its own shade
    joint = (planks > 1) & ((y * planks % 1.0 < 0.02) | (y * planks % 1.0 > 0.985))
    out[np.broadcast_to(joint, (SIZE, SIZE))] *= 0.35
    return out


def tiles(rng: np.random.Generator) -> np.ndarray:
    """Square tiles with per-tile shade and grout lines."""
    count = int(rng.choice([2, 4, 8]))
    base = _colour(rng, (0.0, 1.0), (0.0, 0.5), (0.45, 0.95))
    grout = np.full(3, rng.uniform(0.2, 0.8), np.float32)
    idx = np.arange(SIZE) * count // SIZE
    shade = rng.uniform(0.8, 1.2, (count, count))[idx[:, None], idx[None, :]]
    out = base * shade[..., None] * (1 + 0.1 * _noise(rng, (8, 16, 32)))[..., None]
    frac = (np.arange(SIZE) * count / SIZE) % 1.0
    line = rng.uniform(0.015, 0.05)
    mask = (frac[:, None] < line) | (frac[None, :] < line)
    out[mask] = grout
    return out * _grain(rng, 0.04)


def fabric(rng: np.random.Generator) -> np.ndarray:
    """Stripes or a tartan of two or three colours, with a woven fine texture."""
    colours = [_colour(rng, (0.0, 1.0), (0.1, 0.6), (0.25, 0.9)) for _ in range(3)]
    x = np.arange(SIZE, dtype=np.float32) / SIZE
    f = rng.integers(2, 9)
    stripes_x = (np.sin(2 * np.pi * f * x) > rng.uniform(-0.5, 0.5)).astype(np.float32)
    stripes_y = (np.sin(2 * np.pi * rng.integers(2, 9) * x) > 0.3).astype(np.float32) * rng.integers(0, 2)
    out = _blend(colours[0], colours[1], np.broadcast_to(stripes_x[None, :], (SIZE, SIZE)))
    out = _blend(out, colours[2], np.broadcast_to(0.6 * stripes_y[:, None], (SIZE, SIZE)))
    weave = 1 + 0.08 * np.sin(2 * np.pi * 64 * x)[None, :] * np.sin(2 * np.pi * 64 * x)[:, None]
    return out * weave[..., None] * _grain(rng, 0.05)


def marble(rng: np.random.Generator) -> np.ndarray:
    base = _colour(rng, (0.0, 1.0), (0.0, 0.25), (0.6, 0.95))
    vein = base * rng.uniform(0.2, 0.6)
    x = np.arange(SIZE, dtype=np.float32) / SIZE
    phase = 2 * np.pi * (rng.uniform(1, 4) * (x[None, :] + x[:, None]) + 1.2 * _noise(rng, (4, 8, 16, 32)))
    return _blend(base, vein, (1 - np.abs(np.sin(phase))) ** 6) * _grain(rng, 0.03)


def paint(rng: np.random.Generator) -> np.ndarray:
    """Nearly uniform painted surfaces: the textureless walls and boxes real captures are full of."""
    base = _colour(rng, (0.0, 1.0), (0.0, 0.5), (0.3, 0.95))
    return np.broadcast_to(base, (SIZE, SIZE, 3)) * (1 + 0.03 * _noise(rng, (4, 8, 16)))[..., None] * _grain(rng, 0.02)


def landscape(rng: np.random.Generator) -> np.ndarray:
    """A panorama strip for far walls: sky, hills or tree lines, ground."""
    sky_top, sky_low = _colour(rng, (0.55, 0.62), (0.3, 0.6), (0.7, 0.95)), _colour(rng, (0.55, 0.62), (0.05, 0.2), (0.85, 1.0))
    hills = _colour(rng, (0.2, 0.4), (0.3, 0.7), (0.3, 0.65))
    y = np.arange(SIZE, dtype=np.float32)[:, None] / SIZE
    out = _blend(sky_top, sky_low, np.broadcast_to(y / 0.8, (SIZE, SIZE)))
    ridge = 0.78 + 0.06 * _noise(rng, (1,), (4, 8, 16, 32, 64))[0][None, :]  # low: far hills, a few degrees up
    land = _blend(hills, hills * 0.6, 0.5 + 0.3 * _noise(rng, (16, 32, 64)))
    out = np.where((y > ridge)[..., None], land, out)
    return out * _grain(rng, 0.02)


def clouds(rng: np.random.Generator) -> np.ndarray:
    blue = _colour(rng, (0.55, 0.62), (0.25, 0.55), (0.75, 0.95))
    return _blend(blue, np.ones(3, np.float32), 0.9 * _noise(rng, (2, 4, 8, 16, 32)) - 0.2)


FAMILIES = {"stone": stone, "wood": wood, "planks": lambda rng: wood(rng, planks=int(rng.integers(3, 7))),
            "tiles": tiles, "fabric": fabric, "marble": marble, "paint": paint, "landscape": landscape, "clouds": clouds}


def mip_levels(texture: np.ndarray) -> list[np.ndarray]:
    """uint8 [SIZE,SIZE,3] -> LEVELS arrays, each a 2×2 box-filtered half of the one before."""
    levels = [texture.astype(np.float32)]
    for _ in range(LEVELS - 1):
        t = levels[-1]
        levels.append(0.25 * (t[0::2, 0::2] + t[1::2, 0::2] + t[0::2, 1::2] + t[1::2, 1::2]))
    return [np.round(level).astype(np.uint8) for level in levels]


@cache
def texture_bank() -> TextureBank:
    """The one bank every photo world draws from (seeded: the same in every process)."""
    rng = np.random.default_rng(20240611)
    textures, families = [], {}
    for family, make in FAMILIES.items():
        families[family] = tuple(range(len(textures), len(textures) + VARIANTS))
        textures += [make(rng) for _ in range(VARIANTS)]
    for family, names in (("photo", PHOTOS), ("grey-photo", GREY_PHOTOS), ("material-photo", MATERIAL_PHOTOS)):
        families[family] = tuple(range(len(textures), len(textures) + len(names)))
        textures += [_photo(name) for name in names]
    mips = [mip_levels(np.round(np.clip(t, 0.0, 1.0) * 255).astype(np.uint8)) for t in textures]
    per_level = [np.stack([m[level] for m in mips]).ravel() for level in range(LEVELS)]
    offsets = np.cumsum([0] + [len(p) for p in per_level[:-1]]).astype(np.int64)
    return TextureBank(np.concatenate(per_level), offsets, len(textures), families)
