"""The sky stage on made-up pictures with known answers: a warm, glowing sky above dark land is a
sunset, outdoors only; a blue sky, an orange wall or a warm band as dark as the land is not."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imagecaption.models.offline.pixels import pixel_grid
from imagecaption.models.offline.regions import Box
from imagecaption.models.offline.skies import sunset
from imagecaption.models.offline.surroundings import SurroundingsReader
from tests.models.test_surroundings import reader, scene, sky_over_grass, thing

__all__ = ["reader"]  # the fixture, shared

SEASHORE = "n09428293"


def picture(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    """A smooth band over the top half, a darker textured land below."""
    rng = np.random.default_rng(3)
    pixels = np.zeros((300, 400, 3), dtype=np.float64)
    pixels[:150] = top
    patches = rng.uniform(0.6, 1.4, (150 // 3, 400 // 4, 1)).repeat(3, axis=0).repeat(4, axis=1)
    pixels[150:] = np.array(bottom) * patches
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def sunset_sky() -> Image.Image:
    """A pale gold sky growing orange towards the horizon, over dark land."""
    pixels = np.asarray(picture((0, 0, 0), (50, 35, 30))).copy()
    for row in range(150):
        share = row / 150
        pixels[row] = (255, round(225 - 85 * share), round(160 - 110 * share))
    return Image.fromarray(pixels)


def everywhere(image: Image.Image) -> np.ndarray:
    return np.ones(pixel_grid(image).shape, dtype=bool)


def test_a_warm_glowing_sky_over_dark_land_is_a_sunset_outdoors() -> None:
    image = sunset_sky()
    assert sunset(pixel_grid(image), everywhere(image), outdoors=0.95) == 0.95


def test_no_sunset_unless_surely_outdoors() -> None:
    """An orange-lit room with a dark floor has the same pixels: only outdoors is it a sky."""
    image = sunset_sky()
    assert sunset(pixel_grid(image), everywhere(image), outdoors=0.7) == 0.0


@pytest.mark.parametrize(
    "image",
    [
        sky_over_grass(),  # a blue day sky
        picture((40, 90, 230), (40, 40, 40)),  # a deep blue dusk: not warm
        picture((200, 90, 40), (40, 30, 30)),  # an orange band that does not glow: a wall
        picture((255, 200, 120), (230, 170, 110)),  # glowing, but no darker than below: sand
    ],
)
def test_a_sky_that_fails_a_test_is_no_sunset(image: Image.Image) -> None:
    assert sunset(pixel_grid(image), everywhere(image), outdoors=0.95) == 0.0


def test_the_sky_is_read_outside_the_boxes() -> None:
    """A warm glowing thing in a box over a blue sky is the thing's colour, not the sky's."""
    sky = np.asarray(picture((110, 160, 225), (40, 40, 40))).copy()
    sky[:150, :] = np.asarray(sunset_sky())[:150, :]
    sky[:150, 300:] = (110, 160, 225)
    image = Image.fromarray(sky)
    grid = pixel_grid(image)
    free = np.ones(grid.shape, dtype=bool)
    assert sunset(grid, free, outdoors=0.95) > 0.0
    free[:, : grid.columns(0.0, 0.75).stop] = False  # the warm part is a detected thing
    assert sunset(grid, free, outdoors=0.95) == 0.0


def test_the_surroundings_say_sunset_on_a_beach_and_not_in_a_room(
    reader: SurroundingsReader,
) -> None:
    grid = pixel_grid(sunset_sky())
    beach = reader.read(grid, scene(**{SEASHORE: 0.6}), [])
    assert beach.sunset >= 0.9
    assert beach.night == 0.0
    room = reader.read(grid, scene(), [thing("oven", Box(0.4, 0.6, 0.6, 0.9, 0.9))])
    assert room.sunset == 0.0


def test_a_strip_too_thin_to_have_land_below_its_sky_is_no_sunset() -> None:
    strip = Image.new("RGB", (400, 2), (255, 180, 100))  # warm and glowing throughout
    grid = pixel_grid(strip)
    assert grid.shape[0] == 1
    assert sunset(grid, np.ones(grid.shape, dtype=bool), outdoors=0.95) == 0.0
