"""Sentence rules that read the evidence beyond boxes and classes, on made-up poses,
surroundings and colours: what the subject does, where it is, and its colour."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from imagecaption.models.base import Caption, CaptionOptions
from imagecaption.models.offline.compose.confidence import (
    CALIBRATION,
    CEILING,
    FLOOR,
    calibrated,
)
from imagecaption.models.offline.compose.drafts import Draft, Source
from imagecaption.models.offline.compose.kind import PictureStats
from imagecaption.models.offline.compose.sentence import Findings, SentenceWriter
from imagecaption.models.offline.compose.things import find_things
from imagecaption.models.offline.compose.vocabulary import load_nouns
from imagecaption.models.offline.evidence import Activity, Colour, Place, Pose, Surroundings
from imagecaption.models.offline.labels import load_labels
from imagecaption.models.offline.objects import Detection
from imagecaption.models.offline.regions import Box as Region
from tests.models.test_sentence import probabilities

Box = Detection
PERSON = Box("person", 0.8, 0.35, 0.1, 0.6, 0.95)
GOLDEN = 207
# A photo's statistics as the colour and kind rules see an ordinary landscape-format photo.
PHOTO = PictureStats(
    chroma=40.0, brightness=120.0, background=0.2, ink=0.1, detail=5.0, detail_spread=0.8,
    aspect=1.5,
)  # fmt: skip


@pytest.fixture(scope="module")
def writer() -> SentenceWriter:
    return SentenceWriter(load_labels(), load_nouns())


def pose(box: Box, activity: Activity | None, score: float = 0.9) -> Pose:
    return Pose(Region(box.left, box.top, box.right, box.bottom, 1.0), activity, score)


def ground(name: str, score: float = 0.8, indoors: float | None = 0.1) -> Surroundings:
    return Surroundings(indoors=indoors, ground=(Place(name, score),))


def write(
    writer: SentenceWriter,
    boxes: Sequence[Box] = (),
    *,
    poses: Sequence[Pose] = (),
    surroundings: Surroundings | None = None,
    colours: Mapping[str, Colour] | None = None,
    scene: np.ndarray | None = None,
    crops: Mapping[str, np.ndarray] | None = None,
    **options: int | str,
) -> Caption:
    things, portrait = find_things(boxes, [], load_nouns())
    findings = Findings(
        things,
        portrait,
        probabilities() if scene is None else scene,
        crops or {},
        PHOTO,
        poses=tuple(poses),
        surroundings=surroundings,
        colours=colours or {},
    )
    return writer.write(findings, CaptionOptions(**options))  # type: ignore[arg-type]


def caption(writer: SentenceWriter, boxes: Sequence[Box] = (), **evidence: object) -> str:
    return write(writer, boxes, **evidence).text  # type: ignore[arg-type]


def test_a_posture_is_said_with_where_it_happens(writer: SentenceWriter) -> None:
    walking = [pose(PERSON, "walking")]
    assert caption(writer, [PERSON], poses=walking, surroundings=ground("road")) == (
        "A person walking on a road."
    )
    assert caption(writer, [PERSON], poses=walking) == "A person walking."
    standing = [pose(PERSON, "standing")]
    assert caption(writer, [PERSON], poses=standing, surroundings=ground("grass")) == (
        "A person standing on the grass."
    )
    # "standing" on its own says nothing worth a word
    assert caption(writer, [PERSON], poses=standing) == "A person."


def test_an_unsure_posture_or_place_is_left_out(writer: SentenceWriter) -> None:
    unsure = [pose(PERSON, "running", score=0.4)]
    assert caption(writer, [PERSON], poses=unsure, surroundings=ground("sand", 0.3)) == (
        "A person."
    )
    unclear = [pose(PERSON, None)]
    assert caption(writer, [PERSON], poses=unclear) == "A person."
    elsewhere = [pose(Box("person", 0.9, 0.0, 0.0, 0.1, 0.2), "running")]  # not this person
    assert caption(writer, [PERSON], poses=elsewhere) == "A person."


def test_a_relation_read_from_the_boxes_keeps_its_verb(writer: SentenceWriter) -> None:
    bicycle = Box("bicycle", 0.8, 0.3, 0.5, 0.7, 0.98)
    sitting = [pose(PERSON, "sitting")]
    assert caption(writer, [PERSON, bicycle], poses=sitting, surroundings=ground("road")) == (
        "A person riding a bicycle on a road."
    )
    dog = Box("dog", 0.8, 0.62, 0.4, 0.85, 0.95)
    walking = [pose(PERSON, "walking")]
    assert caption(writer, [PERSON, dog], poses=walking, surroundings=ground("grass")) == (
        "A person walking next to a dog on the grass."
    )


def test_a_group_is_said_to_do_what_most_of_it_does(writer: SentenceWriter) -> None:
    people = [Box("person", 0.8, 0.1 + 0.2 * i, 0.2, 0.25 + 0.2 * i, 0.9) for i in range(3)]
    most = [pose(people[0], "walking"), pose(people[1], "walking"), pose(people[2], "standing")]
    assert caption(writer, people, poses=most, surroundings=ground("road")) == (
        "Three people walking on a road."
    )
    split = [pose(people[0], "walking"), pose(people[1], "sitting"), pose(people[2], "standing")]
    assert caption(writer, people, poses=split, surroundings=ground("road")) == (
        "Three people on a road."
    )


def test_animals_lie_graze_and_play(writer: SentenceWriter) -> None:
    couch = Box("couch", 0.7, 0.0, 0.3, 1.0, 1.0)
    dogs = [Box("dog", 0.8, 0.1 + 0.4 * i, 0.45, 0.45 + 0.4 * i, 0.75) for i in range(2)]
    assert caption(writer, [*dogs, couch]) == "Two dogs lying on a couch."
    upright = [Box("dog", 0.8, 0.3, 0.1, 0.5, 0.8)]  # taller than wide: sitting up
    assert caption(writer, [*upright, couch]) == "A dog on a couch."
    cows = [Box("cow", 0.8, 0.1 * i, 0.4, 0.1 * i + 0.09, 0.6) for i in range(3)]
    assert caption(writer, cows, surroundings=ground("field")) == "Three cows grazing in a field."
    assert caption(writer, cows, surroundings=ground("snow")) == "Three cows in the snow."
    dog = Box("dog", 0.8, 0.2, 0.4, 0.5, 0.9)
    frisbee = Box("frisbee", 0.7, 0.55, 0.2, 0.65, 0.3)
    assert caption(writer, [dog, frisbee]) == "A dog playing with a frisbee."


def test_people_eat_at_tables_and_play_games(writer: SentenceWriter) -> None:
    table = Box("dining table", 0.7, 0.0, 0.6, 1.0, 1.0)
    seated = Box("person", 0.8, 0.3, 0.2, 0.6, 0.9)
    pizza = Box("pizza", 0.8, 0.35, 0.65, 0.55, 0.8)
    assert caption(writer, [seated, table, pizza]) == "A person eating at a table."
    assert caption(writer, [seated, table]) == "A person at a table."
    racket = Box("tennis racket", 0.7, 0.5, 0.3, 0.58, 0.45)
    ball = Box("sports ball", 0.7, 0.8, 0.1, 0.86, 0.18)
    assert caption(writer, [PERSON, racket, ball]) == "A person playing tennis."


def test_the_place_suits_the_subject(writer: SentenceWriter) -> None:
    boat = Box("boat", 0.8, 0.2, 0.4, 0.7, 0.7)
    assert caption(writer, [boat], surroundings=ground("water")) == "A boat on the water."
    assert caption(writer, [PERSON], surroundings=ground("water")) == "A person in the water."
    plane = Box("airplane", 0.8, 0.2, 0.3, 0.7, 0.6)
    sky = Surroundings(indoors=0.0, background=(Place("sky", 0.9),))
    assert caption(writer, [plane], surroundings=sky) == "An airplane in the sky."
    on_ground = Surroundings(ground=(Place("road", 0.8),), background=(Place("sky", 0.9),))
    assert caption(writer, [plane], surroundings=on_ground) == "An airplane on a road."
    kite = Box("kite", 0.8, 0.4, 0.2, 0.5, 0.3)  # flown, as an airplane flies
    assert caption(writer, [kite], surroundings=sky) == "A kite in the sky."
    bird = Box("bird", 0.8, 0.4, 0.2, 0.5, 0.3)  # perched against the sky as often as not
    assert caption(writer, [bird], surroundings=sky) == "A bird."
    chairs = [Box("chair", 0.8, 0.1 * i, 0.5, 0.1 * i + 0.09, 0.8) for i in range(6)]
    assert caption(writer, chairs, surroundings=Surroundings(indoors=0.95)) == (
        "Several chairs in a room."
    )
    assert caption(writer, chairs, surroundings=Surroundings(indoors=0.7)) == "Several chairs."


def test_objects_and_the_classifier_name_the_setting_first(writer: SentenceWriter) -> None:
    kitchen = [Box("oven", 0.7, 0.1, 0.5, 0.4, 0.9), Box("refrigerator", 0.7, 0.6, 0.1, 0.9, 0.9)]
    assert caption(writer, kitchen, surroundings=ground("floor")) == (
        "A refrigerator and an oven in a kitchen."
    )


def test_the_classifier_s_subject_gets_a_place_too(writer: SentenceWriter) -> None:
    scene = probabilities(c207=0.9)
    assert caption(writer, scene=scene, surroundings=ground("grass")) == (
        "A golden retriever on the grass."
    )


def test_a_clear_colour_names_the_subject(writer: SentenceWriter) -> None:
    car = Box("car", 0.8, 0.2, 0.4, 0.8, 0.8)
    red = {"car": Colour("red", 0.9)}
    assert caption(writer, [car], colours=red, surroundings=ground("road")) == (
        "A red car on a road."
    )
    umbrella = Box("umbrella", 0.8, 0.2, 0.2, 0.8, 0.8)
    assert caption(writer, [umbrella], colours={"umbrella": Colour("orange", 0.9)}) == (
        "An orange umbrella."
    )
    assert caption(writer, [car], colours={"car": Colour("red", 0.4)}) == "A car."  # unsure
    # never a person's colour, never over a breed that carries its own
    assert caption(writer, [PERSON], colours={"person": Colour("white", 0.9)}) == "A person."
    dog = Box("dog", 0.8, 0.2, 0.2, 0.8, 0.9)
    crops = {"dog": probabilities(c207=0.9)}
    brown = {"dog": Colour("brown", 0.9)}
    assert caption(writer, [dog], colours=brown, crops=crops) == "A golden retriever."
    assert caption(writer, [dog], colours=brown) == "A brown dog."


def test_the_main_caption_comes_first_with_the_highest_score(writer: SentenceWriter) -> None:
    """The classifier sure of "a dog" but less of its breed: the broader alternative was once
    scored above the caption (0.9 against 0.5), so the scores said nothing a user could use."""
    result = write(writer, scene=probabilities(c207=0.5, c208=0.2, c209=0.2), num_captions=5)
    assert result.text == "A golden retriever."
    scores = [candidate.score for candidate in result.candidates]
    assert result.candidates[0].text == result.text
    assert scores[0] == result.score == max(scores)
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 < value < 1.0 for value in scores)


@pytest.mark.parametrize("source", sorted(CALIBRATION))
def test_a_higher_raw_score_never_means_a_lower_chance(source: Source) -> None:
    chances = [calibrated(Draft(("a dog",), raw, source)) for raw in np.linspace(0, 1, 21)]
    assert chances == sorted(chances)
    assert all(FLOOR <= chance <= CEILING for chance in chances)


def test_tags_list_every_thing_setting_and_activity_found(writer: SentenceWriter) -> None:
    dog = Box("dog", 0.8, 0.62, 0.4, 0.85, 0.95)
    vase = Box("vase", 0.3, 0.0, 0.0, 0.1, 0.1)  # below the detector's bar for vases
    result = write(
        writer,
        [PERSON, dog, vase],
        poses=[pose(PERSON, "walking", 0.7)],
        surroundings=Surroundings(
            indoors=0.1, ground=(Place("grass", 0.8),), background=(Place("trees", 0.2),)
        ),
        crops={"dog": probabilities(c207=0.9)},
    )
    assert result.text == "A person walking next to a golden retriever on the grass."
    tags = {tag.name: tag.score for tag in result.tags or ()}
    assert tags == {
        "person": 0.8,
        "golden retriever": 0.8,
        "dog": 0.8,
        "grass": 0.8,
        "outdoor": 0.9,
        "walking": 0.7,
    }
    scores = [tag.score for tag in result.tags or ()]
    assert scores == sorted(scores, reverse=True)


def test_tags_carry_what_the_sentence_says_things_do(writer: SentenceWriter) -> None:
    cows = [Box("cow", 0.8, 0.1 * i, 0.4, 0.1 * i + 0.09, 0.6) for i in range(3)]
    result = write(writer, cows, surroundings=ground("field", 0.7))
    assert result.text == "Three cows grazing in a field."
    tags = {tag.name: tag.score for tag in result.tags or ()}
    assert tags["cow"] == 0.8
    assert tags["grazing"] == tags["field"] == 0.7
    # the classifier's setting comes before the surroundings: no pasture said, no grazing
    beach = write(writer, cows, surroundings=ground("field", 0.7), scene=probabilities(c978=0.4))
    assert beach.text == "Three cows on a beach."
    tags = {tag.name: tag.score for tag in beach.tags or ()}
    assert tags["beach"] == 0.4
    assert "grazing" not in tags


def test_buildings_are_placed_by_what_lies_behind_them(writer: SentenceWriter) -> None:
    """What lies behind first; grass before a building is its lawn only where nothing does."""
    yurt = probabilities(c915=0.8)  # the classifier sure of a yurt, nothing detected
    grass = Surroundings(indoors=0.05, ground=(Place("grass", 0.9),))
    assert caption(writer, scene=yurt, surroundings=grass) == "A yurt with a lawn."
    trees = Surroundings(
        indoors=0.05, ground=(Place("grass", 0.9),), background=(Place("trees", 0.8),)
    )
    assert caption(writer, scene=yurt, surroundings=trees) == "A yurt in front of trees."


def test_a_small_unsure_box_the_classifier_sees_nothing_of_is_left_out(
    writer: SentenceWriter,
) -> None:
    """A pile of coins was "a clock": the detector unsure, the box small, and nothing like a
    clock in the classifier's closer look."""
    clock = Box("clock", 0.56, 0.2, 0.1, 0.3, 0.25)
    nothing_like_it = {"clock": probabilities(c111=0.3)}  # a roundworm
    result = write(writer, [clock], crops=nothing_like_it)
    assert "clock" not in result.text.lower()
    assert result.objects == ()
    like_it = {"clock": probabilities(c409=0.3)}  # an analog clock, if unsure which
    assert caption(writer, [clock], crops=like_it) == "A clock."
    big = Box("clock", 0.56, 0.1, 0.1, 0.6, 0.7)
    assert caption(writer, [big], crops=nothing_like_it) == "A clock."


def test_the_classifier_s_grazing_animal_grazes_on_pasture(writer: SentenceWriter) -> None:
    """A bison the classifier names (the detector found none) on grass grazes, as the
    detector's cows do; in the snow, or as a dog on grass, nothing is grazing."""
    bison = probabilities(c347=0.9)
    result = write(writer, scene=bison, surroundings=ground("grass"))
    assert result.text == "A bison grazing on the grass."
    assert "grazing" in {tag.name for tag in result.tags}
    assert caption(writer, scene=bison, surroundings=ground("snow")) == "A bison in the snow."
    golden = probabilities(c207=0.9)
    assert "grazing" not in caption(writer, scene=golden, surroundings=ground("grass"))
    # the detector's cow, which the classifier's closer look names a bison
    cow = Box("cow", 0.8, 0.2, 0.3, 0.8, 0.8)
    named = caption(writer, [cow], crops={"cow": bison}, surroundings=ground("grass"))
    assert named == "A bison grazing on the grass."
    spanish = write(writer, scene=bison, surroundings=ground("grass"), lang="es").text
    assert "grazing" not in spanish
    assert spanish.startswith("Un bisonte")
