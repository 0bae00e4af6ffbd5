"""Picture grids for `gqn evaluate --grid` and `gqn predict`: labelled columns of image tiles."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

GAP = 2          # pixels between tiles
HEADER = 14      # pixels for the column labels
MIN_TILE = 64    # small images are enlarged (nearest) to at least this, so labels fit and pixels show

# A few stops of matplotlib's "inferno" (dark = certain, bright = uncertain).
_INFERNO = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], np.float64)


def heatmap(values: np.ndarray, vmax: float) -> np.ndarray:
    """float [H,W] -> uint8 [H,W,3], 0 → black, vmax (and above) → pale yellow."""
    t = np.clip(np.asarray(values, np.float64) / max(vmax, 1e-12), 0.0, 1.0)
    stops = np.linspace(0.0, 1.0, len(_INFERNO))
    rgb = np.stack([np.interp(t, stops, _INFERNO[:, c]) for c in range(3)], -1)
    return (rgb + 0.5).astype(np.uint8)


def tile_shape(image_shape: int | tuple[int, int]) -> tuple[int, int]:
    """(height, width) of the tile for pictures of a side (square) or of (height, width): small
    pictures are enlarged by a whole factor until their short side is at least MIN_TILE."""
    height, width = (image_shape, image_shape) if isinstance(image_shape, int) else image_shape
    factor = max(1, -(-MIN_TILE // min(height, width)))
    return height * factor, width * factor


def grid_shape(rows: int, columns: int, image_shape: int | tuple[int, int], title: bool = False) -> tuple[int, int]:
    """(width, height) in pixels of a grid of rows × columns tiles of pictures of a side (square)
    or of (height, width)."""
    height, width = tile_shape(image_shape)
    return GAP + columns * (width + GAP), (2 if title else 1) * HEADER + GAP + rows * (height + GAP)


def image_grid(rows: list[list[np.ndarray | None]], labels: list[str], title: str | None = None) -> Image.Image:
    """uint8 [H,W,3] tiles of one shape, one list per row (None leaves a cell empty), under one label
    per column and an optional title line."""
    shape = next(tile.shape[:2] for row in rows for tile in row if tile is not None)
    height, width = tile_shape(tuple(shape))
    canvas = Image.new("RGB", grid_shape(len(rows), len(labels), tuple(shape), title is not None), (24, 24, 24))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    top = 0
    if title is not None:
        draw.text((GAP + 1, 1), title, fill=(255, 255, 255), font=font)
        top = HEADER
    for c, label in enumerate(labels):
        draw.text((GAP + c * (width + GAP) + 1, top + 1), label, fill=(200, 200, 200), font=font)
    for r, row in enumerate(rows):
        for c, picture in enumerate(row):
            if picture is not None:
                image = Image.fromarray(np.ascontiguousarray(picture)).resize((width, height), Image.Resampling.NEAREST)
                canvas.paste(image, (GAP + c * (width + GAP), top + HEADER + GAP + r * (height + GAP)))
    return canvas
