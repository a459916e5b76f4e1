"""The surroundings stage on made-up pictures and evidence, and on real photographs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imagecaption.models.offline.compose.things import Thing
from imagecaption.models.offline.compose.vocabulary import load_nouns
from imagecaption.models.offline.labels import NUM_CLASSES, load_labels
from imagecaption.models.offline.pixels import pixel_grid
from imagecaption.models.offline.regions import Box
from imagecaption.models.offline.surroundings import SurroundingsReader

SUBJECT = Box(0.35, 0.3, 0.65, 0.75, 0.9)


@pytest.fixture(scope="module")
def reader() -> SurroundingsReader:
    return SurroundingsReader(load_labels())


def thing(label: str, box: Box = SUBJECT) -> Thing:
    return Thing(load_nouns()[label], (box,))


def scene(**probabilities: float) -> np.ndarray:
    """Classifier probabilities: the named classes (by WordNet ID) and the rest spread evenly."""
    wnids = [label.wnid for label in load_labels()]
    result = np.zeros(NUM_CLASSES)
    for wnid, probability in probabilities.items():
        result[wnids.index(wnid)] = probability
    rest = 1.0 - result.sum()
    result[result == 0] = rest / (result == 0).sum()
    return result


def sky_over_grass() -> Image.Image:
    """Smooth blue sky above, textured green grass below."""
    rng = np.random.default_rng(5)
    pixels = np.zeros((300, 400, 3), dtype=np.float64)
    pixels[:150] = (110, 160, 225)
    # Blades a few pixels wide: brightness varying in 4-pixel patches, as grass does.
    patches = rng.uniform(0.5, 1.4, (150 // 3, 400 // 4, 1)).repeat(3, axis=0).repeat(4, axis=1)
    pixels[150:] = np.array([70, 140, 40]) * patches
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def white_backdrop() -> Image.Image:
    return Image.fromarray(np.full((300, 400, 3), 252, dtype=np.uint8))


def names(places: tuple[object, ...]) -> set[str]:
    return {place.name for place in places}  # type: ignore[attr-defined]


def test_sky_and_grass_around_a_horse(reader: SurroundingsReader) -> None:
    found = reader.read(pixel_grid(sky_over_grass()), scene(), [thing("horse")])
    assert found.indoors is not None
    assert found.indoors < 0.1
    assert names(found.ground) == {"grass"}
    assert names(found.background) == {"sky"}
    assert all(0.5 <= place.score <= 1.0 for place in found.ground + found.background)


def test_pixels_alone_name_no_sky(reader: SurroundingsReader) -> None:
    """A blue backdrop above something green is not evidence enough of a sky: nothing says
    the picture is outdoors. The grass below still shows, as grass needs no sky."""
    found = reader.read(pixel_grid(sky_over_grass()), scene(), [])
    assert found.indoors is None
    assert names(found.background) == set()


def test_a_white_backdrop_is_neither_snow_nor_sky(reader: SurroundingsReader) -> None:
    found = reader.read(pixel_grid(white_backdrop()), scene(), [thing("horse")])
    assert names(found.ground) == set()
    assert names(found.background) == set()


def test_the_classifier_names_beaches_and_mountains(reader: SurroundingsReader) -> None:
    beach = reader.read(pixel_grid(white_backdrop()), scene(n09428293=0.6), [])
    assert names(beach.ground) == {"sand"}
    assert names(beach.background) == {"water"}
    assert beach.indoors is not None
    assert beach.indoors < 0.5
    alp = reader.read(pixel_grid(sky_over_grass()), scene(n09193705=0.5), [])
    assert "mountains" in names(alp.background)
    unsure = reader.read(pixel_grid(white_backdrop()), scene(n09193705=0.1), [])
    assert names(unsure.background) == set()


def test_never_against_the_classifiers_setting(reader: SurroundingsReader) -> None:
    """A restaurant, says the classifier; a blue ceiling and a kite say otherwise: the stage
    then says nothing about indoors rather than contradict the classifier."""
    found = reader.read(pixel_grid(sky_over_grass()), scene(n04081281=0.3), [thing("kite")])
    assert found.indoors is None or found.indoors > 0.5
    assert "sky" not in names(found.background)


def plain_ground(ground: tuple[int, int, int]) -> Image.Image:
    """Light grey sky above, a plain ground below."""
    pixels = np.zeros((300, 400, 3), dtype=np.uint8)
    pixels[:120] = (200, 205, 210)
    pixels[120:] = ground
    return Image.fromarray(pixels)


def test_water_below_a_boat_and_snow_below_skis(reader: SurroundingsReader) -> None:
    """Water and snow are read from pixels only below the things that need them."""
    boat = Box(0.3, 0.3, 0.7, 0.55, 0.9)
    sea = pixel_grid(plain_ground((40, 90, 120)))
    assert "water" in names(reader.read(sea, scene(), [thing("boat", boat)]).ground)
    assert "water" not in names(reader.read(sea, scene(), [thing("horse", boat)]).ground)
    snow = pixel_grid(plain_ground((235, 238, 242)))
    assert "snow" in names(reader.read(snow, scene(), [thing("skis", boat)]).ground)
    assert "snow" not in names(reader.read(snow, scene(), [thing("horse", boat)]).ground)


def test_an_oven_is_indoors(reader: SurroundingsReader) -> None:
    found = reader.read(pixel_grid(white_backdrop()), scene(), [thing("oven")])
    assert found.indoors is not None
    assert found.indoors > 0.8
    assert found.ground == found.background == ()


def night_street() -> Image.Image:
    """A black sky with a few lights in it above a dimly lit street."""
    pixels = np.zeros((300, 400, 3), dtype=np.uint8)
    pixels[:100] = (8, 10, 25)
    pixels[20:26, 50:56] = pixels[40:44, 300:304] = (255, 240, 200)  # street lights
    pixels[100:] = (70, 65, 60)
    return Image.fromarray(pixels)


def test_a_dark_sky_outdoors_is_night_and_a_dark_room_is_not(reader: SurroundingsReader) -> None:
    truck, car = thing("truck", Box(0.1, 0.5, 0.4, 0.9, 0.9)), thing("car")
    street = reader.read(pixel_grid(night_street()), scene(n03877845=0.5), [truck, car])
    assert street.night >= 0.9
    # the same pixels, but an oven says it is a room: a dark kitchen, not the night
    room = reader.read(pixel_grid(night_street()), scene(), [thing("oven")])
    assert room.night == 0.0
    # a bright sky is day
    day = reader.read(pixel_grid(sky_over_grass()), scene(n09193705=0.5), [])
    assert day.night == 0.0


def test_a_plain_backdrop_has_its_colour_and_a_textured_or_outdoor_one_none(
    reader: SurroundingsReader,
) -> None:
    person = thing("person", Box(0.3, 0.2, 0.7, 1.0, 0.9))
    studio = reader.read(pixel_grid(white_backdrop()), scene(), [person])
    assert studio.backdrop is not None
    assert studio.backdrop.name == "white"
    # grass behind is no backdrop, and a picture likely outdoors has none
    assert reader.read(pixel_grid(sky_over_grass()), scene(), [person]).backdrop is None
    outdoors = reader.read(pixel_grid(white_backdrop()), scene(n09193705=0.6), [person])
    assert outdoors.backdrop is None
