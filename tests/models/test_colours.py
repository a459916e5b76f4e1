"""The colour stage on made-up pictures and on real photographs of the quality corpus."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imagecaption.models.offline.colours import colour_names, colour_of, thing_colours
from imagecaption.models.offline.pixels import pixel_grid
from imagecaption.models.offline.regions import Box

CENTRE = Box(0.25, 0.25, 0.75, 0.75, 0.9)


def picture(background: tuple[int, int, int], thing: tuple[int, int, int]) -> Image.Image:
    """A 256-pixel picture of ``background`` with a ``thing`` square filling CENTRE."""
    pixels = np.zeros((256, 256, 3), dtype=np.uint8)
    pixels[:] = background
    pixels[64:192, 64:192] = thing
    return Image.fromarray(pixels)


@pytest.mark.parametrize(
    ("thing", "expected"),
    [
        ((200, 30, 30), "red"),
        ((120, 10, 15), "red"),  # vivid red in shade stays red
        ((110, 70, 30), "brown"),  # dark orange is brown
        ((240, 140, 20), "orange"),
        ((230, 210, 40), "yellow"),
        ((40, 160, 60), "green"),
        ((30, 70, 200), "blue"),
        ((130, 40, 170), "purple"),
        ((240, 150, 170), "pink"),
        ((245, 245, 242), "white"),
        ((128, 128, 130), "grey"),
        ((20, 20, 25), "black"),
    ],
)
def test_basic_colours_of_a_plain_thing(thing: tuple[int, int, int], expected: str) -> None:
    background = (90, 150, 200) if expected != "blue" else (230, 230, 230)
    colour = colour_of(pixel_grid(picture(background, thing)), CENTRE)
    assert colour is not None
    assert colour.name == expected
    assert 0.55 <= colour.score <= 1.0


def test_a_thing_of_two_colours_has_none() -> None:
    pixels = np.full((256, 256, 3), 230, dtype=np.uint8)
    pixels[64:192, 64:128] = (200, 30, 30)
    pixels[64:192, 128:192] = (30, 70, 200)
    assert colour_of(pixel_grid(Image.fromarray(pixels)), CENTRE) is None


def test_background_inside_the_box_is_discounted() -> None:
    """A red thing that fills only part of the middle of its box, on green: the green between
    its edges is the background, which the ring around the box shows too."""
    pixels = np.zeros((256, 256, 3), dtype=np.uint8)
    pixels[:] = (40, 160, 60)
    pixels[96:192, 96:192] = (200, 30, 30)
    colour = colour_of(pixel_grid(Image.fromarray(pixels)), CENTRE)
    assert colour is not None
    assert colour.name == "red"


def test_tiny_boxes_and_people_get_no_colour() -> None:
    grid = pixel_grid(picture((230, 230, 230), (200, 30, 30)))
    assert colour_of(grid, Box(0.45, 0.45, 0.5, 0.5, 0.9)) is None
    found = thing_colours(grid, [("person", CENTRE), ("chair", CENTRE), ("bus", CENTRE)])
    assert set(found) == {"bus"}
    assert found["bus"].name == "red"


def test_colour_words_cover_every_cell() -> None:
    rng = np.random.default_rng(3)
    noise = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    grid = pixel_grid(noise)
    names = colour_names(grid, slice(0, 64), slice(0, 64))
    assert names.shape == (64, 64)
    assert names.min() >= 0
    assert names.max() <= 10
    # Noise of every colour is mixed: no clear colour.
    assert colour_of(grid, Box(0.0, 0.0, 1.0, 1.0, 0.9)) is None


def car(body: tuple[int, int, int]) -> Image.Image:
    """A car on grey tarmac filling CENTRE: its body below, dark windows and tyres taking
    half of the box's middle."""
    pixels = np.full((256, 256, 3), 120, dtype=np.uint8)
    pixels[64:192, 64:192] = body
    pixels[80:128, 64:192] = (25, 25, 30)  # windows
    pixels[176:192, 64:192] = (10, 10, 10)  # tyres and shadow
    return Image.fromarray(pixels)


def test_a_car_s_colour_is_its_body_s_not_its_windows() -> None:
    grid = pixel_grid(car((200, 30, 30)))
    assert colour_of(grid, CENTRE) is None  # as a thing, no colour holds the box
    body = colour_of(grid, CENTRE, body=True)
    assert body is not None
    assert body.name == "red"
    assert thing_colours(grid, [("car", CENTRE)])["car"].name == "red"
    assert thing_colours(grid, [("cat", CENTRE)]) == {}


def test_a_car_body_that_may_be_shade_has_no_colour() -> None:
    """Yellow paint in shade reads as brown: never said of a body beside dark windows."""
    assert colour_of(pixel_grid(car((110, 70, 30))), CENTRE, body=True) is None
