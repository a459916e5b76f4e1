"""The light of the sky: whether an outdoor picture was taken at sunset (or sunrise).

Read from the free cells of the top band (outside every detected box), where the sky is: a sunset
sky is smooth and warm (yellow, orange, pink, purple), part of it glows (a warm cell nearly at
full brightness: the sun, or the clouds it lights), and it is much brighter than the land below,
which is in shadow. Each test alone also takes things that are not skies: an orange wall is
smooth and warm, a lamp glows, a white page above a dark desk is brighter than it. So the stage
needs all three, and only in a picture that other evidence already makes surely outdoors (the
surroundings stage's classifier and things, with pixels): indoors, an orange backdrop is the
usual warm top. On the quality corpus's tuning photos these bounds took the sunsets over a beach,
a boardwalk and a sea of fog, and nothing else: a desert track under a pale sky, an orange
gosling on the grass and every portrait against an orange wall stayed out.
"""

from __future__ import annotations

import numpy as np

from imagecaption.models.offline.pixels import PixelGrid

# The picture must be at least this likely outdoors (the surroundings stage's probability).
OUTDOORS = 0.85
# The band the sky is read in: the free cells of the top of the picture, at least MIN_CELLS.
SKY_BOTTOM = 0.4
MIN_CELLS = 60
# The land it is compared with: the bottom of the picture, boxes and all.
LAND_TOP = 0.6
# Warm hues, in degrees: red to yellow, and magenta to red (pink and purple dusk skies).
WARM = (55.0, 290.0)  # a hue outside this range is warm
WARM_SATURATION = 0.2
WARM_VALUE = 0.45
SMOOTH = 0.035  # detail under this: sky, not foliage or a brick wall (as TEXTURED elsewhere)
GLOW_VALUE = 0.85
GLOW_SATURATION = 0.1
# The three tests: shares of the band's cells, and the band's mean brightness over the land's.
WARM_SHARE = 0.28
GLOW_SHARE = 0.14
BRIGHTER = 0.3


def sunset(grid: PixelGrid, free: np.ndarray, outdoors: float) -> float:
    """How likely the picture was taken at sunset or sunrise, from 0 to 1: ``outdoors`` (the
    probability that it is outdoors) where the sky band of ``free`` (a mask over the grid of the
    cells outside every box) passes every test, else 0."""
    if outdoors < OUTDOORS:
        return 0.0
    rows = grid.shape[0]
    band = free & (np.arange(rows)[:, np.newaxis] < SKY_BOTTOM * rows)
    cells = int(band.sum())
    if cells < MIN_CELLS:
        return 0.0
    hue, saturation, value = grid.hue[band], grid.saturation[band], grid.value[band]
    warm_hue = (hue < WARM[0]) | (hue >= WARM[1])
    smooth = grid.detail[band] < SMOOTH
    warm = warm_hue & (saturation >= WARM_SATURATION) & (value >= WARM_VALUE) & smooth
    glow = warm_hue & (saturation >= GLOW_SATURATION) & (value >= GLOW_VALUE)
    land = grid.value[grid.rows(LAND_TOP, 1.0)]
    if land.size == 0:  # a strip a cell or two tall: no land below the sky to compare with
        return 0.0
    brighter = float(value.mean()) - float(land.mean())
    if warm.mean() < WARM_SHARE or glow.mean() < GLOW_SHARE or brighter < BRIGHTER:
        return 0.0
    return round(outdoors, 3)
