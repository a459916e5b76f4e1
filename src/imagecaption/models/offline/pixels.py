"""The picture as a small grid of hue, saturation, value and local detail, which the colour and
surroundings stages read: computed once per picture, off the model thread, in about a millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# Long side of the grid: enough pixels for a box a fiftieth of the picture (about 300), few
# enough that every statistic is a cheap numpy reduction.
GRID = 128


@dataclass(frozen=True)
class PixelGrid:
    """Per cell: ``hue`` in degrees (0-360), ``saturation`` and ``value`` from 0 to 1, and
    ``detail`` (mean absolute difference to the right and lower neighbours, 0-1): texture."""

    hue: np.ndarray
    saturation: np.ndarray
    value: np.ndarray
    detail: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        rows, columns = self.hue.shape
        return rows, columns

    def rows(self, top: float, bottom: float) -> slice:
        height = self.shape[0]
        return slice(round(top * height), max(round(bottom * height), 1))

    def columns(self, left: float, right: float) -> slice:
        width = self.shape[1]
        return slice(round(left * width), max(round(right * width), 1))


def pixel_grid(image: Image.Image) -> PixelGrid:
    """``image`` (RGB) shrunk to GRID on its long side, as hue, saturation, value and detail."""
    scale = GRID / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
    rgb = np.asarray(small, dtype=np.float32) / 255.0
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # Element-wise over the three channels: numpy's reductions along a last axis of three are
    # ten times slower here.
    value = np.maximum(np.maximum(red, green), blue)
    spread = value - np.minimum(np.minimum(red, green), blue)
    saturation = np.where(value > 0, spread / np.maximum(value, 1e-6), 0.0)
    safe = np.maximum(spread, 1e-6)
    hue = np.select(
        [value == red, value == green],
        [((green - blue) / safe) % 6, (blue - red) / safe + 2],
        (red - green) / safe + 4,
    )
    hue = np.where(spread > 0, hue * 60.0, 0.0)
    grey = (red + green + blue) / 3
    detail = np.zeros_like(grey)
    detail[:-1, :] += np.abs(np.diff(grey, axis=0))
    detail[:, :-1] += np.abs(np.diff(grey, axis=1))
    return PixelGrid(
        hue.astype(np.float32),
        saturation.astype(np.float32),
        value.astype(np.float32),
        (detail / 2).astype(np.float32),
    )
