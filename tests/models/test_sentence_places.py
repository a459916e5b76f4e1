"""Sentence rules for where a picture was taken, on made-up findings: the sky behind buildings
and landscapes, and people small in a landscape the classifier is sure of."""

from __future__ import annotations

import pytest

from imagecaption.models.offline.compose.sentence import SentenceWriter
from imagecaption.models.offline.evidence import Colour, Place, Surroundings
from tests.models.test_sentence import probabilities
from tests.models.test_sentence_evidence import Box, caption, pose, write, writer

__all__ = ["writer"]  # the fixture, shared

YURT = 915
SNOWY_MOUNTAIN = 970


def sky(score: float, *others: Place) -> Surroundings:
    return Surroundings(indoors=0.0, background=(Place("sky", score), *others))


def test_a_building_or_a_landscape_stands_against_a_sure_sky(writer: SentenceWriter) -> None:
    yurt = probabilities(**{f"c{YURT}": 0.8})
    assert caption(writer, scene=yurt, surroundings=sky(0.65)) == "A yurt against the sky."
    mountain = probabilities(**{f"c{SNOWY_MOUNTAIN}": 0.8})
    behind = sky(0.9, Place("mountains", 0.8))
    assert caption(writer, scene=mountain, surroundings=behind) == (
        "A snowy mountain against the sky."
    )


def test_an_unsure_sky_or_other_background_is_not_said_of_a_landscape(
    writer: SentenceWriter,
) -> None:
    yurt = probabilities(**{f"c{YURT}": 0.8})
    assert caption(writer, scene=yurt, surroundings=sky(0.5)) == "A yurt."
    mountain = probabilities(**{f"c{SNOWY_MOUNTAIN}": 0.8})
    mountains = Surroundings(indoors=0.0, background=(Place("mountains", 0.8),))
    assert caption(writer, scene=mountain, surroundings=mountains) == "A snowy mountain."


def test_a_sure_small_person_is_named_in_the_classifier_s_landscape(
    writer: SentenceWriter,
) -> None:
    mountain = probabilities(**{f"c{SNOWY_MOUNTAIN}": 0.8})
    hiker = Box("person", 0.8, 0.5, 0.4, 0.53, 0.5)  # 3 % wide, a tenth tall
    assert caption(writer, [hiker], scene=mountain) == "A person in the snowy mountains."
    unsure = Box("person", 0.5, 0.5, 0.4, 0.53, 0.5)
    assert caption(writer, [unsure], scene=mountain) == "A snowy mountain."


DINING_TABLE = 532
RESTAURANT = 762


def test_a_table_the_classifier_names_is_not_put_on_itself(writer: SentenceWriter) -> None:
    """The classifier sure of a dining table that the detector also found: the table and
    the chair beside it, in the room, not "a dining table on a table"."""
    table = Box("dining table", 0.6, 0.2, 0.5, 0.8, 0.95)
    chair = Box("chair", 0.7, 0.05, 0.45, 0.3, 0.95)
    scene = probabilities(**{f"c{DINING_TABLE}": 0.8})
    indoors = Surroundings(indoors=0.95)
    assert caption(writer, [table, chair], scene=scene, surroundings=indoors) == (
        "A dining table and a chair in a room."
    )
    assert caption(writer, [table], scene=scene) == "A dining table."


def test_a_place_the_classifier_names_is_where_the_furniture_is(writer: SentenceWriter) -> None:
    table = Box("dining table", 0.6, 0.2, 0.5, 0.8, 0.95)
    scene = probabilities(**{f"c{RESTAURANT}": 0.7})
    assert caption(writer, [table], scene=scene) == "A table in a restaurant."


ESPRESSO = 967


def test_a_table_whose_crop_shows_a_drink_is_the_table_under_it(writer: SentenceWriter) -> None:
    """The detector's table fills the picture, and the classifier's look at it sees the cup of
    espresso standing on it: both are said, the cup on the table."""
    table = Box("dining table", 0.51, 0.0, 0.0, 1.0, 1.0)
    espresso = probabilities(**{f"c{ESPRESSO}": 0.9})
    crops = {"dining table": espresso}
    assert caption(writer, [table], scene=espresso, crops=crops) == (
        "A cup of espresso on a table."
    )


def test_a_place_the_classifier_leads_with_is_never_put_on_the_table(
    writer: SentenceWriter,
) -> None:
    """An unsure thing leads the detector's finds, so the classifier's sure restaurant leads the
    caption: the table is in the restaurant, not the restaurant on the table."""
    plant = Box("potted plant", 0.5, 0.75, 0.2, 1.0, 0.95)
    table = Box("dining table", 0.6, 0.0, 0.55, 0.5, 0.98)
    scene = probabilities(**{f"c{RESTAURANT}": 0.7})
    assert caption(writer, [plant, table], scene=scene) == "A table in a restaurant."


def test_a_sure_thing_beside_a_person_or_an_animal_is_named_with_it(
    writer: SentenceWriter,
) -> None:
    cat = Box("cat", 0.7, 0.1, 0.2, 0.6, 0.9)
    cup = Box("cup", 0.7, 0.7, 0.5, 0.9, 0.8)
    assert caption(writer, [cat, cup]) == "A cat and a cup."
    unsure = Box("cup", 0.55, 0.7, 0.5, 0.9, 0.8)
    assert caption(writer, [cat, unsure]) == "A cat."
    tiny = Box("cup", 0.7, 0.7, 0.5, 0.74, 0.55)
    assert caption(writer, [cat, tiny]) == "A cat."
    chair = Box("chair", 0.7, 0.6, 0.3, 0.95, 0.95)
    assert caption(writer, [cat, chair]) == "A cat."


GAR = 395
SUIT = 834


def test_an_animal_in_a_person_s_crop_is_not_what_they_hold(writer: SentenceWriter) -> None:
    """Bare legs over a cliff read as "a gar" to the classifier: "a person with a gar" is
    nonsense, while what a person wears is still said."""
    person = Box("person", 0.8, 0.3, 0.1, 0.6, 0.9)
    fish = {"person": probabilities(**{f"c{GAR}": 0.45})}
    assert caption(writer, [person], crops=fish) == "A person."
    suit = {"person": probabilities(**{f"c{SUIT}": 0.45})}
    assert caption(writer, [person], crops=suit) == "A person wearing a suit."


CASTLE = 483
GOLDEN_RETRIEVER = 207


def test_people_the_detector_is_sure_of_are_named_beside_the_classifier_s_thing(
    writer: SentenceWriter,
) -> None:
    """A castle the classifier is sure of, with people small below it: both are named."""
    castle = probabilities(**{f"c{CASTLE}": 0.8})
    people = [Box("person", 0.7, 0.1 * i, 0.8, 0.1 * i + 0.03, 0.9) for i in range(1, 4)]
    assert caption(writer, people, scene=castle, surroundings=sky(0.9)) == (
        "A castle and three people against the sky."
    )
    unsure = [Box("person", 0.47, 0.1 * i, 0.8, 0.1 * i + 0.03, 0.9) for i in range(1, 4)]
    assert caption(writer, unsure, scene=castle) == "A castle."
    dog = probabilities(**{f"c{GOLDEN_RETRIEVER}": 0.9})
    assert caption(writer, people, scene=dog) == "A golden retriever."


def test_a_landscape_with_no_one_feature_sure_stands_against_the_sky(
    writer: SentenceWriter,
) -> None:
    """Scene classes sharing the classifier's probability (a tenth each: a mountain, a cliff,
    a lake, a headland, a valley) make "a landscape", which a likely sky stands behind."""
    scenes = probabilities(c970=0.1, c972=0.1, c975=0.1, c976=0.1, c979=0.1)
    assert caption(writer, scene=scenes, surroundings=sky(0.9)) == "A landscape against the sky."
    assert caption(writer, scene=scenes, surroundings=sky(0.4)) == "A landscape."


@pytest.mark.parametrize(("time", "words"), [("night", "at night"), ("sunset", "at sunset")])
def test_a_time_of_day_is_said_after_its_place(
    writer: SentenceWriter, time: str, words: str
) -> None:
    """At night or at sunset: after the place or alone, tagged, and only where likely."""

    def at(score: float, **places: tuple[Place, ...]) -> Surroundings:
        return Surroundings(indoors=0.05, **places, **{time: score})  # type: ignore[arg-type]

    yurt = probabilities(**{f"c{YURT}": 0.8})
    assert caption(writer, scene=yurt, surroundings=at(0.95)) == f"A yurt {words}."
    lit = at(0.95, background=(Place("sky", 0.9),))
    assert caption(writer, scene=yurt, surroundings=lit) == f"A yurt against the sky {words}."
    car = Box("car", 0.8, 0.2, 0.4, 0.8, 0.9)
    road = at(0.95, ground=(Place("road", 0.9),))
    assert caption(writer, [car], surroundings=road) == f"A car on a road {words}."
    assert (time, 0.95) in {
        (tag.name, tag.score) for tag in write(writer, [car], surroundings=road).tags
    }
    # unsure of the time: nothing said of it
    assert caption(writer, scene=yurt, surroundings=at(0.3)) == "A yurt."


def test_a_guess_is_said_under_its_sky_but_on_no_ground(writer: SentenceWriter) -> None:
    """The time of day and a sure sky hold whatever the picture shows; a ground or another
    background fits the subject, which is only guessed, so it is left out."""
    maze = probabilities(c646=0.3)  # the classifier unsure: a hedge
    night = Surroundings(indoors=0.05, night=0.95)
    assert caption(writer, scene=maze, surroundings=night) == (
        "An image that may show a hedge maze at night."
    )
    dusk = Surroundings(indoors=0.05, sunset=0.9)
    assert caption(writer, scene=maze, surroundings=dusk) == (
        "An image that may show a hedge maze at sunset."
    )
    assert write(writer, scene=maze, surroundings=dusk, max_length=6).text == (
        "Possibly a hedge maze at sunset."
    )
    assert write(writer, scene=maze, surroundings=dusk, max_length=5).text == (
        "Possibly a hedge maze."
    )
    assert caption(writer, scene=maze, surroundings=sky(0.9)) == (
        "An image that may show a hedge maze against the sky."
    )
    assert caption(writer, scene=maze, surroundings=sky(0.5)) == (
        "An image that may show a hedge maze."
    )
    grass_and_trees = Surroundings(
        indoors=0.05, ground=(Place("grass", 0.9),), background=(Place("trees", 0.9),)
    )
    assert caption(writer, scene=maze, surroundings=grass_and_trees) == (
        "An image that may show a hedge maze."
    )


def test_night_the_surer_reading_of_the_sky_goes_before_a_sunset(writer: SentenceWriter) -> None:
    yurt = probabilities(**{f"c{YURT}": 0.8})
    both = Surroundings(indoors=0.05, night=0.95, sunset=0.9)
    assert caption(writer, scene=yurt, surroundings=both) == "A yurt at night."


def test_grass_before_a_building_is_its_lawn(writer: SentenceWriter) -> None:
    """A building stands on no ground ("a yurt on the grass" reads as a toy's place), except
    the grass before it, its lawn; other grounds stay unsaid, and animals stay on the grass."""
    yurt = probabilities(**{f"c{YURT}": 0.8})
    lawn = Surroundings(indoors=0.05, ground=(Place("grass", 0.9),))
    assert caption(writer, scene=yurt, surroundings=lawn) == "A yurt with a lawn."
    road = Surroundings(indoors=0.05, ground=(Place("road", 0.9),))
    assert caption(writer, scene=yurt, surroundings=road) == "A yurt."
    unsure = Surroundings(indoors=0.05, ground=(Place("grass", 0.4),))
    assert caption(writer, scene=yurt, surroundings=unsure) == "A yurt."
    dog = Box("dog", 0.9, 0.3, 0.4, 0.7, 0.9)
    assert caption(writer, [dog], surroundings=lawn) == "A dog on the grass."


def test_a_plain_backdrop_is_said_where_no_place_is(writer: SentenceWriter) -> None:
    person = Box("person", 0.9, 0.3, 0.1, 0.7, 0.95)
    pink = Surroundings(backdrop=Colour("pink", 1.0))
    assert caption(writer, [person], surroundings=pink) == "A person against a pink background."
    # a place the surroundings are sure of comes first
    grass = Surroundings(indoors=0.1, ground=(Place("grass", 0.9),), backdrop=Colour("pink", 1.0))
    assert caption(writer, [person], surroundings=grass) == "A person on the grass."


FOLDING_CHAIR, SAWMILL = 559, 634


def test_chairs_around_the_table_the_classifier_is_sure_of_are_named_with_it(
    writer: SentenceWriter,
) -> None:
    """The detector found the chairs but missed the table they stand at."""
    chairs = [Box("chair", 0.7, 0.3, 0.3, 0.6, 0.9), Box("chair", 0.65, 0.6, 0.25, 0.85, 0.8)]
    indoors = Surroundings(indoors=0.95)
    table = probabilities(**{f"c{DINING_TABLE}": 0.65})
    assert caption(writer, chairs, scene=table, surroundings=indoors) == (
        "A dining table and two chairs in a room."
    )
    unsure = probabilities(**{f"c{DINING_TABLE}": 0.4})
    assert caption(writer, chairs, scene=unsure, surroundings=indoors) == "Two chairs in a room."
    # a chair the classifier is sure of is no table
    chair = probabilities(**{f"c{FOLDING_CHAIR}": 0.65})
    assert "table" not in caption(writer, chairs, scene=chair, surroundings=indoors)


def test_a_tiny_person_s_crop_names_nothing_the_classifier_is_unsure_of(
    writer: SentenceWriter,
) -> None:
    """A crop of a few dozen pixels shows mostly the background: a hiker is no sawmill."""
    building = probabilities(**{f"c{SAWMILL}": 0.3})
    tiny = Box("person", 0.7, 0.25, 0.42, 0.32, 0.54)  # 0.8 % of the picture
    assert caption(writer, [tiny], crops={"person": building}) == "A person."
    large = Box("person", 0.7, 0.2, 0.1, 0.6, 0.9)
    assert caption(writer, [large], crops={"person": building}) == (
        "A person in front of a sawmill."
    )
    sure = probabilities(**{f"c{SAWMILL}": 0.6})
    assert caption(writer, [tiny], crops={"person": sure}) == "A person in front of a sawmill."


def test_a_road_vehicle_renamed_keeps_the_colour_found_for_its_box(
    writer: SentenceWriter,
) -> None:
    """The colour stage knows the box by the detector's word; the caption by the classifier's."""
    truck = Box("truck", 0.8, 0.05, 0.2, 0.9, 0.9)
    some_car = probabilities(c511=0.6, c817=0.2)  # a convertible, a sports car
    red = {"truck": Colour("red", 0.7)}
    assert caption(writer, [truck], crops={"truck": some_car}, colours=red) == "A red car."
    assert caption(writer, [truck], colours=red) == "A red truck."


def test_a_lone_small_unsure_person_with_no_body_in_the_box_is_left_out(
    writer: SentenceWriter,
) -> None:
    """A concrete groyne seen from above is no person: the pose model finds no body there."""
    groyne = Box("person", 0.6, 0.5, 0.1, 0.59, 0.32)  # 2 % of the picture
    assert caption(writer, [groyne], poses=[pose(groyne, None)]) == (
        "An image with no clearly recognizable subject."
    )
    # a body read, a sure detection, a second person or no pose run: the person stays
    assert caption(writer, [groyne], poses=[pose(groyne, "sitting")]) == "A person sitting."
    sure = Box("person", 0.7, 0.5, 0.1, 0.59, 0.32)
    assert caption(writer, [sure], poses=[pose(sure, None)]) == "A person."
    other = Box("person", 0.6, 0.2, 0.1, 0.29, 0.32)
    assert caption(writer, [groyne, other], poses=[pose(groyne, None)]) == "Two people."
    assert caption(writer, [groyne]) == "A person."
