"""What kind of picture it is, for pictures without one subject: a landscape, a building, a
page of text, a close-up of a texture, a black and white photo.

Read from cheap pixel statistics of a small thumbnail (computed off the model thread) and from
how the classifier spreads its probability over scene, building and place classes. Each test
errs towards saying nothing, since "an image with no clearly recognizable subject" is at least
never wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from imagecaption.models.offline.compose.naming import ClassNames

THUMBNAIL = 96
# Mean spread between colour channels (0-255) under which a picture is black and white.
GREY_CHROMA = 6.0
GREY_BRIGHTNESS = 40.0
# A page: mostly light background with this share of small dark marks, evenly spread.
PAGE_BACKGROUND = 0.55
PAGE_INK = (0.02, 0.35)
# A texture: detail everywhere (every tile busy) and no tile much busier than the others.
TEXTURE_DETAIL = 10.0
TEXTURE_SPREAD = 0.45
# How much of the classifier's probability the scene classes need to call it a landscape, and
# the building or indoor classes to call it a building or a room.
LANDSCAPE = 0.30
BUILDING = 0.35
INTERIOR = 0.35


@dataclass(frozen=True)
class PictureStats:
    """Pixel statistics of a picture, each a plain number so the rules read like their docs."""

    chroma: float
    brightness: float
    background: float
    ink: float
    detail: float
    detail_spread: float
    aspect: float = 1.0
    """Width over height, so that rules reading box shapes (a dog lying down is wide) can
    tell shapes in pixels from shapes in fractions of the picture."""


def picture_stats(image: Image.Image) -> PictureStats:
    """Statistics of a small RGB thumbnail; costs well under a millisecond."""
    small = image.resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BILINEAR, reducing_gap=3.0)
    rgb = np.asarray(small, dtype=np.float32)
    chroma = float((rgb.max(axis=2) - rgb.min(axis=2)).mean())
    grey = rgb.mean(axis=2)
    light = float(np.percentile(grey, 90))
    background = float((grey >= light - 25).mean())
    ink = float((grey <= light - 90).mean())
    edges = np.abs(np.diff(grey, axis=0))[:, :-1] + np.abs(np.diff(grey, axis=1))[:-1, :]
    tiles = edges[: 16 * 5, : 16 * 5].reshape(5, 16, 5, 16).mean(axis=(1, 3))
    detail = float(tiles.mean())
    spread = float(tiles.std() / detail) if detail > 0 else 0.0
    aspect = image.width / image.height if image.height else 1.0
    return PictureStats(chroma, float(grey.mean()), background, ink, detail, spread, aspect)


def is_grey(stats: PictureStats | None) -> bool:
    """A black and white picture: no colour, and not so dark (a black cat on black, a product
    shot on a black cloth) that the colour could simply not show."""
    return stats is not None and stats.chroma < GREY_CHROMA and stats.brightness >= GREY_BRIGHTNESS


def laid_out_like_a_page(stats: PictureStats) -> bool:
    """Light background with small dark marks spread over it, in colour or not."""
    low, high = PAGE_INK
    return stats.background >= PAGE_BACKGROUND and low <= stats.ink <= high


def picture_kind(stats: PictureStats | None, names: ClassNames, scene: np.ndarray) -> str | None:
    """A noun phrase for the kind of picture, or None when no rule is sure."""
    if stats is not None and laid_out_like_a_page(stats) and is_grey(stats):
        return "a page of text"
    if names.category_mass(scene, frozenset({"scene"})) >= LANDSCAPE:
        return "a landscape"
    if names.category_mass(scene, frozenset({"building"})) >= BUILDING:
        return "a building"
    if names.category_mass(scene, frozenset({"place"})) >= INTERIOR:
        return "an interior"
    if stats is not None:
        if stats.detail >= TEXTURE_DETAIL and stats.detail_spread <= TEXTURE_SPREAD:
            return "a close-up of a textured surface"
        if is_grey(stats):
            return "a black and white photo"
    return None
