"""The colour of a thing, where it is clear: "a red bus", "a black cat", never a guess.

Each cell of the thing's largest box is given one of eleven basic colour words from its hue,
saturation and value (greys, white and black first, since a hue means nothing without
saturation). Only the middle of the box counts, where the thing usually is, and a colour that
the ring of picture just outside the box shares is discounted: there the box may be showing its
background. One word must hold a clear majority of the thing's cells, else nothing is said.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imagecaption.models.offline.evidence import Colour
from imagecaption.models.offline.pixels import PixelGrid
from imagecaption.models.offline.regions import Box

NAMES = (
    "black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink",
    "brown",
)  # fmt: skip
BLACK, WHITE, GREY, RED, ORANGE, YELLOW, GREEN, BLUE, PURPLE, PINK, BROWN = range(len(NAMES))
# Value under which a cell is black whatever its hue: dark cells' hues are mostly noise.
DARK = 0.2
# Saturation under which a cell is white, grey or black; white also needs to be this bright.
GREYISH = 0.15
BRIGHT = 0.75
# Hue bounds (degrees) of the saturated colours, on the HSV wheel as cameras render it.
HUES = ((15, RED), (40, ORANGE), (70, YELLOW), (165, GREEN), (255, BLUE), (290, PURPLE),
        (340, PINK), (360, RED))  # fmt: skip
# Dark orange reads as brown (wood, fur, leather), and so does dark red unless it is vivid
# (red fabric in shade stays red); pale red reads as pink.
BROWN_VALUE = 0.6
VIVID = 0.6
PINK_SATURATION = 0.45
PINK_VALUE = 0.75
# The middle of the box that counts, as a share of its width and height on each side.
INSET = 0.2
# The ring around the box that shows the background, as a share of the box's size.
RING = 0.15
# A colour word needs this share of the thing's cells (after the background discount), and
# at least this many cells in all, to be said.
CLEAR_SHARE = 0.55
MIN_CELLS = 40
# A colour the ring is mostly made of counts at this weight inside the box: it may be the
# background showing between the thing's edges.
BACKGROUND_WEIGHT = 0.3
BACKGROUND_SHARE = 0.4
# Things whose boxes say nothing about their own colour: a person's box shows clothes, skin
# and hair; a dining table's box shows what is on it; chairs, benches and bicycles are frames
# whose boxes show mostly what is behind them (white chairs on a wooden floor read as brown).
NOT_COLOURED = frozenset({"person", "dining table", "chair", "bench", "bicycle"})
# Only the most salient things are looked at.
THINGS_COLOURED = 3
# A car's box is its painted body, its windows and tyres and the shadow under it: where no
# colour holds the box, the body's colour is the one that holds the box without the black,
# grey and white cells (a red car whose windows are dark). Not brown: a yellow car in shade
# reads as brown, orange and yellow cells, and a colour that may be a shadow's is not said.
# Pink there is red paint's highlights.
BODY_COLOURED = frozenset({"car", "truck", "bus"})
ACHROMATIC = (BLACK, WHITE, GREY)
NOT_A_BODY_COLOUR = frozenset({BROWN})


def colour_names(grid: PixelGrid, rows: slice, columns: slice) -> np.ndarray:
    """Each cell's colour word (an index into NAMES) in the given part of the grid."""
    hue = grid.hue[rows, columns]
    saturation = grid.saturation[rows, columns]
    value = grid.value[rows, columns]
    names = np.full(hue.shape, RED, dtype=np.int8)
    for bound, name in reversed(HUES):
        names[hue < bound] = name
    dull_red = (names == RED) & (saturation < VIVID)
    names[((names == ORANGE) | dull_red) & (value < BROWN_VALUE)] = BROWN
    names[(names == RED) & (saturation < PINK_SATURATION) & (value >= PINK_VALUE)] = PINK
    greyish = saturation < GREYISH
    names[greyish] = GREY
    names[greyish & (value >= BRIGHT)] = WHITE
    names[value < DARK] = BLACK
    return names


def colour_of(grid: PixelGrid, box: Box, body: bool = False) -> Colour | None:
    """The clear colour of what is in ``box``, or None when it is mixed, too small or unsure;
    with ``body``, a vehicle's, whose windows and tyres may hide it (``BODY_COLOURED``)."""
    dx, dy = INSET * box.width, INSET * box.height
    rows = grid.rows(box.top + dy, box.bottom - dy)
    columns = grid.columns(box.left + dx, box.right - dx)
    inside = colour_names(grid, rows, columns).ravel()
    if inside.size < MIN_CELLS:
        return None
    weights = np.ones(len(NAMES))
    ring = _ring(grid, box)
    if ring.size:
        ring_share = np.bincount(ring, minlength=len(NAMES)) / ring.size
        weights[ring_share >= BACKGROUND_SHARE] = BACKGROUND_WEIGHT
    counts = np.bincount(inside, minlength=len(NAMES)) * weights
    clear = _clear(counts)
    if clear is not None or not body:
        return clear
    weights[list(ACHROMATIC)] = np.minimum(weights[list(ACHROMATIC)], BACKGROUND_WEIGHT)
    painted_cells = np.where(inside == PINK, RED, inside)
    painted = _clear(np.bincount(painted_cells, minlength=len(NAMES)) * weights)
    if painted is None or NAMES.index(painted.name) in NOT_A_BODY_COLOUR:
        return None
    return painted


def _clear(counts: np.ndarray) -> Colour | None:
    """The colour word holding a clear share of the weighted cell ``counts``, if any."""
    best = int(np.argmax(counts))
    share = float(counts[best] / counts.sum())
    if share < CLEAR_SHARE:
        return None
    return Colour(NAMES[best], round(share, 3))


def thing_colours(grid: PixelGrid, things: Sequence[tuple[str, Box]]) -> dict[str, Colour]:
    """The clear colours of the first few ``(label, largest box)`` pairs, by label."""
    found = {}
    for label, box in things[:THINGS_COLOURED]:
        if label in NOT_COLOURED:
            continue
        colour = colour_of(grid, box, body=label in BODY_COLOURED)
        if colour is not None:
            found[label] = colour
    return found


def _ring(grid: PixelGrid, box: Box) -> np.ndarray:
    """Colour words of the band just outside ``box`` (within the picture), flattened."""
    dx, dy = RING * box.width, RING * box.height
    outer = Box(
        max(0.0, box.left - dx), max(0.0, box.top - dy),
        min(1.0, box.right + dx), min(1.0, box.bottom + dy), box.score,
    )  # fmt: skip
    rows, columns = grid.rows(outer.top, outer.bottom), grid.columns(outer.left, outer.right)
    names = colour_names(grid, rows, columns)
    keep = np.ones(names.shape, dtype=bool)
    inner_rows = grid.rows(box.top, box.bottom)
    inner_columns = grid.columns(box.left, box.right)
    keep[
        inner_rows.start - rows.start : inner_rows.stop - rows.start,
        inner_columns.start - columns.start : inner_columns.stop - columns.start,
    ] = False
    return np.asarray(names[keep], dtype=np.int64)
