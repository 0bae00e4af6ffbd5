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


def tile_size(image_size: int) -> int:
    return image_size * max(1, -(-MIN_TILE // image_size))


def grid_shape(rows: int, columns: int, image_size: int, title: bool = False) -> tuple[int, int]:
    """(width, height) in pixels of a grid of rows × columns tiles of image_size pictures."""
    cell = tile_size(image_size) + GAP
    return GAP + columns * cell, (2 if title else 1) * HEADER + GAP + rows * cell


def image_grid(rows: list[list[np.ndarray | None]], labels: list[str], title: str | None = None) -> Image.Image:
    """uint8 [H,W,3] tiles, one list per row (None leaves a cell empty), under one label per column
    and an optional title line."""
    size = next(tile.shape[0] for row in rows for tile in row if tile is not None)
    tile = tile_size(size)
    canvas = Image.new("RGB", grid_shape(len(rows), len(labels), size, title is not None), (24, 24, 24))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    top = 0
    if title is not None:
        draw.text((GAP + 1, 1), title, fill=(255, 255, 255), font=font)
        top = HEADER
    for c, label in enumerate(labels):
        draw.text((GAP + c * (tile + GAP) + 1, top + 1), label, fill=(200, 200, 200), font=font)
    for r, row in enumerate(rows):
        for c, picture in enumerate(row):
            if picture is not None:
                image = Image.fromarray(np.ascontiguousarray(picture)).resize((tile, tile), Image.Resampling.NEAREST)
                canvas.paste(image, (GAP + c * (tile + GAP), top + HEADER + GAP + r * (tile + GAP)))
    return canvas
