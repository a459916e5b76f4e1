"""Sentence rules on made-up detector and classifier outputs: fast, and independent of any
model's mood. Boxes are (left, top, right, bottom) fractions of the picture."""

from __future__ import annotations

import numpy as np
import pytest

from imagecaption.models.base import Caption, CaptionOptions
from imagecaption.models.offline.compose.sentence import Findings, SentenceWriter
from imagecaption.models.offline.compose.things import find_things
from imagecaption.models.offline.compose.vocabulary import load_nouns
from imagecaption.models.offline.faces import Face
from imagecaption.models.offline.labels import load_labels
from imagecaption.models.offline.objects import Detection

TABBY, TIGER_CAT, EGYPTIAN_CAT = 281, 282, 285
GOLDEN, LABRADOR, CHESAPEAKE = 207, 208, 209
ROBIN, BRAMBLING, GOLDFINCH = 15, 10, 11
SEASHORE, LIBRARY = 978, 624
SUIT, VIOLIN, SCUBA_DIVER, ESPRESSO = 834, 889, 983, 967


Box = Detection  # what the object detector reports, made up here


@pytest.fixture(scope="module")
def writer() -> SentenceWriter:
    return SentenceWriter(load_labels(), load_nouns())


def probabilities(**chosen: float) -> np.ndarray:
    """The given classes (``c207=0.9``) with what is left spread evenly over the others."""
    picked = {int(key[1:]): value for key, value in chosen.items()}
    rest = (1.0 - sum(picked.values())) / (1000 - len(picked))
    result = np.full(1000, rest)
    for index, value in picked.items():
        result[index] = value
    return result


def caption(
    writer: SentenceWriter,
    boxes: list[Box] | None = None,
    scene: np.ndarray | None = None,
    crops: dict[str, np.ndarray] | None = None,
    faces: list[Face] | None = None,
    **options: int,
) -> str:
    return write(writer, boxes, scene, crops, faces, **options).text


def write(
    writer: SentenceWriter,
    boxes: list[Box] | None = None,
    scene: np.ndarray | None = None,
    crops: dict[str, np.ndarray] | None = None,
    faces: list[Face] | None = None,
    **options: int,
) -> Caption:
    things, portrait = find_things(boxes or [], faces or [], load_nouns())
    findings = Findings(things, portrait, probabilities() if scene is None else scene, crops or {})
    return writer.write(findings, CaptionOptions(**options))


PERSON = Box("person", 0.8, 0.35, 0.1, 0.6, 0.95)


@pytest.mark.parametrize(
    ("ridden", "expected"),
    [
        # under the minimum of its category (0.55), but under the feet of a person found
        (Box("skateboard", 0.45, 0.33, 0.9, 0.62, 0.98), "A person riding a skateboard."),
        (Box("bicycle", 0.42, 0.3, 0.5, 0.7, 0.98), "A person riding a bicycle."),
        # as unsure, and nobody on it: left out
        (Box("skateboard", 0.45, 0.7, 0.1, 0.95, 0.2), "A person."),
        # too unsure even with a rider, and horses never: a person beside one looks the same
        (Box("skateboard", 0.35, 0.33, 0.9, 0.62, 0.98), "A person."),
        (Box("horse", 0.42, 0.2, 0.4, 0.8, 0.99), "A person."),
    ],
)
def test_a_rider_vouches_for_a_board_or_a_cycle_the_detector_is_unsure_of(
    writer: SentenceWriter, ridden: Box, expected: str
) -> None:
    assert caption(writer, [PERSON, ridden]) == expected


@pytest.mark.parametrize(
    ("boxes", "expected"),
    [
        (
            [PERSON, Box("sports ball", 0.7, 0.55, 0.85, 0.62, 0.93)],
            "A person playing with a ball.",
        ),
        ([PERSON, Box("bicycle", 0.8, 0.3, 0.5, 0.7, 0.98)], "A person riding a bicycle."),
        ([PERSON, Box("horse", 0.8, 0.2, 0.4, 0.8, 0.99)], "A person riding a horse."),
        ([PERSON, Box("surfboard", 0.7, 0.3, 0.85, 0.7, 0.97)], "A person on a surfboard."),
        (
            [PERSON, Box("tennis racket", 0.7, 0.5, 0.3, 0.58, 0.45)],
            "A person holding a tennis racket.",
        ),
        ([PERSON, Box("kite", 0.7, 0.7, 0.0, 0.8, 0.08)], "A person flying a kite."),
        ([PERSON, Box("bench", 0.7, 0.2, 0.6, 0.8, 1.0)], "A person sitting on a bench."),
        ([PERSON, Box("bus", 0.8, 0.0, 0.0, 1.0, 0.9)], "A person in front of a bus."),
        (
            [
                Box("dog", 0.8, 0.1, 0.3, 0.45, 0.7),
                Box("cat", 0.7, 0.5, 0.35, 0.8, 0.7),
                Box("couch", 0.7, 0.0, 0.2, 1.0, 1.0),
            ],
            "A dog and a cat on a couch.",
        ),
        (
            [
                Box("laptop", 0.8, 0.2, 0.2, 0.6, 0.6),
                Box("cup", 0.7, 0.65, 0.4, 0.75, 0.58),
                Box("dining table", 0.6, 0.0, 0.5, 1.0, 1.0),
            ],
            "A laptop and a cup on a table.",
        ),
        (
            [
                Box("oven", 0.7, 0.1, 0.5, 0.4, 0.9),
                Box("refrigerator", 0.7, 0.6, 0.1, 0.9, 0.9),
            ],
            "A refrigerator and an oven in a kitchen.",
        ),
        (
            [Box("car", 0.7, x, 0.5, x + 0.2, 0.7) for x in (0.0, 0.3, 0.6)],
            "Three cars on a street.",
        ),
    ],
)
def test_relations_are_read_from_the_boxes(
    writer: SentenceWriter, boxes: list[Box], expected: str
) -> None:
    assert caption(writer, boxes) == expected


@pytest.mark.parametrize(
    ("boxes", "expected"),
    [
        ([Box("dog", 0.8, 0.1 + 0.3 * i, 0.3, 0.35 + 0.3 * i, 0.7) for i in range(2)], "Two dogs."),
        (
            [Box("person", 0.8, 0.1 * i, 0.2, 0.1 * i + 0.09, 0.8) for i in range(3)],
            "Three people.",
        ),
        (
            [Box("person", 0.8, 0.1 * i, 0.2, 0.1 * i + 0.09, 0.8) for i in range(7)],
            "A group of people.",
        ),
        (
            [Box("sheep", 0.8, 0.1 * i, 0.4, 0.1 * i + 0.09, 0.6) for i in range(8)],
            "Several sheep.",
        ),
        # one man in front and a passer-by far behind: the passer-by is not counted
        (
            [PERSON, Box("person", 0.7, 0.8, 0.45, 0.83, 0.55)],
            "A person.",
        ),
    ],
)
def test_counts_say_how_many(writer: SentenceWriter, boxes: list[Box], expected: str) -> None:
    assert caption(writer, boxes) == expected


def test_below_its_threshold_a_detection_is_not_mentioned(writer: SentenceWriter) -> None:
    """The detector names chairs vases: a weak vase says nothing rather than something false."""
    assert caption(writer, [PERSON, Box("vase", 0.5, 0.4, 0.4, 0.5, 0.6)]) == "A person."
    assert caption(writer, [Box("vase", 0.5, 0.3, 0.3, 0.6, 0.8)]) == (
        "An image with no clearly recognizable subject."
    )


def test_one_box_is_never_two_kinds_of_thing(writer: SentenceWriter) -> None:
    boxes = [Box("dog", 0.8, 0.2, 0.2, 0.7, 0.9), Box("cat", 0.5, 0.21, 0.2, 0.7, 0.88)]
    assert caption(writer, boxes) == "A dog."


def test_the_classifier_names_a_box_precisely_where_the_two_agree(writer: SentenceWriter) -> None:
    cat = [Box("cat", 0.8, 0.2, 0.2, 0.8, 0.9)]
    assert caption(writer, cat, crops={"cat": probabilities(c281=0.5, c282=0.3)}) == (
        "A tabby cat."
    )
    # unsure between cats and dogs: the detector's broad word stays
    assert caption(writer, cat, crops={"cat": probabilities(c281=0.3, c207=0.3)}) == "A cat."
    # a bird the classifier is unsure of is "a bird", or its group, never a guessed species
    bird = [Box("bird", 0.8, 0.3, 0.3, 0.6, 0.7)]
    assert caption(writer, bird, crops={"bird": probabilities(c15=0.35)}) == "A bird."
    assert caption(writer, bird, crops={"bird": probabilities(c10=0.3, c11=0.3)}) == (
        "A small bird."
    )


def test_the_classifier_corrects_a_box_it_is_sure_of(writer: SentenceWriter) -> None:
    """The detector calls dalmatians giraffes and puppies people; the classifier does not."""
    box = [Box("giraffe", 0.7, 0.2, 0.2, 0.8, 0.9)]
    assert caption(writer, box, crops={"giraffe": probabilities(c207=0.9)}) == (
        "A golden retriever."
    )
    puppy = [Box("person", 0.6, 0.2, 0.2, 0.8, 0.9)]
    assert caption(writer, puppy, crops={"person": probabilities(c207=0.9)}) == (
        "A golden retriever."
    )
    # but a person in a suit is a person wearing one, not a suit
    suited = {"person": probabilities(c834=0.9)}
    assert caption(writer, puppy, crops=suited) == "A person wearing a suit."


def test_details_name_each_box_as_the_caption_does(writer: SentenceWriter) -> None:
    """``objects`` once showed the detector's word ("giraffe") beside a caption that had
    corrected it; every box stays listed, under the caption's names."""
    boxes = [
        Box("giraffe", 0.7, 0.2, 0.2, 0.5, 0.9),
        Box("cat", 0.8, 0.55, 0.2, 0.9, 0.9),
        Box("cat", 0.75, 0.6, 0.6, 0.9, 0.95),
    ]
    crops = {"giraffe": probabilities(c207=0.9), "cat": probabilities(c281=0.6, c282=0.3)}
    result = write(writer, boxes, crops=crops)
    assert result.text == "Two cats next to a golden retriever."
    assert [found.label for found in result.objects or ()] == ["cat", "cat", "golden retriever"]
    alone = write(writer, boxes[1:2], crops=crops)
    assert alone.text == "A tabby cat."
    assert [found.label for found in alone.objects or ()] == ["tabby cat"]


@pytest.mark.parametrize(
    ("scene", "expected"),
    [
        (probabilities(c207=0.9), "A golden retriever."),
        (probabilities(c281=0.3, c282=0.3, c285=0.2), "A tabby cat."),  # look-alikes add up
        (probabilities(c207=0.2, c208=0.2, c209=0.2), "A dog."),  # no breed stands out
        (probabilities(c207=0.6, c978=0.3), "A golden retriever on a beach."),
        (probabilities(c978=0.8), "A beach."),
        (probabilities(c646=0.3), "An image that may show a hedge maze."),
        (probabilities(c657=0.3, c744=0.15), "An image that may show a rocket."),  # its group
        (probabilities(), "An image with no clearly recognizable subject."),
    ],
)
def test_without_detections_the_classifier_speaks(
    writer: SentenceWriter, scene: np.ndarray, expected: str
) -> None:
    assert caption(writer, scene=scene) == expected


@pytest.mark.parametrize(
    ("view", "scene", "expected"),
    [
        (probabilities(c834=0.6), probabilities(), "A person wearing a suit."),
        (probabilities(c889=0.6), probabilities(), "A person playing a violin."),
        (probabilities(c983=0.7), probabilities(), "A scuba diver."),
        (probabilities(), probabilities(c978=0.5), "A person on a beach."),
        (probabilities(c834=0.5), probabilities(c624=0.4), "A person wearing a suit in a library."),
        (probabilities(c967=0.1), probabilities(c967=0.1), "A person."),  # too unsure to add
    ],
)
def test_what_a_person_wears_or_plays(
    writer: SentenceWriter, view: np.ndarray, scene: np.ndarray, expected: str
) -> None:
    assert caption(writer, [PERSON], scene=scene, crops={"person": view}) == expected


def test_only_one_person_plays_one_violin(writer: SentenceWriter) -> None:
    two = [PERSON, Box("person", 0.8, 0.65, 0.1, 0.9, 0.95)]
    assert caption(writer, two, crops={"person": probabilities(c889=0.6)}) == "Two people."


def test_a_face_filling_the_frame_is_a_portrait(writer: SentenceWriter) -> None:
    face = Face(0.35, 0.2, 0.65, 0.6, score=0.9)
    assert caption(writer, [PERSON], faces=[face]) == "A portrait of a person."
    # a face the body detector missed still counts as a person
    assert caption(writer, [], faces=[Face(0.4, 0.1, 0.5, 0.2, score=0.9)]) == "A person."


@pytest.mark.parametrize(
    ("max_length", "expected"),
    [
        (None, "A person wearing a suit on a beach."),
        (5, "A person wearing a suit."),
        (2, "A person."),
        (1, "Person."),
    ],
)
def test_max_length_picks_a_shorter_sentence(
    writer: SentenceWriter, max_length: int | None, expected: str
) -> None:
    options = {} if max_length is None else {"max_length": max_length}
    text = caption(
        writer,
        [PERSON],
        scene=probabilities(c978=0.5),
        crops={"person": probabilities(c834=0.6)},
        **options,
    )
    assert text == expected


def test_a_long_phrase_is_cut_to_its_head_noun(writer: SentenceWriter) -> None:
    assert caption(writer, scene=probabilities(c207=0.9), max_length=2) == "Golden retriever."
    assert caption(writer, scene=probabilities(c207=0.9), max_length=1) == "Retriever."
    assert caption(writer, scene=probabilities(c967=0.9), max_length=3) == "Espresso."


def test_alternatives_differ_in_substance(writer: SentenceWriter) -> None:
    boxes = [
        PERSON,
        Box("bicycle", 0.8, 0.3, 0.5, 0.7, 0.98),
        Box("dog", 0.7, 0.75, 0.6, 0.95, 0.9),
    ]
    result = write(writer, boxes, scene=probabilities(c207=0.6), num_captions=5)
    texts = [candidate.text for candidate in result.candidates]
    assert texts[0] == result.text == "A person riding a bicycle."
    assert len(texts) == len(set(texts)) >= 3
    assert any(text.startswith("A dog") for text in texts), texts
    assert any("golden retriever" in text for text in texts), texts
    assert all(0.0 <= candidate.score <= 1.0 for candidate in result.candidates)


def test_one_caption_carries_no_candidates(writer: SentenceWriter) -> None:
    assert write(writer, [PERSON]).candidates == ()


def test_several_people_sit_on_one_seat_only_if_it_holds_them(writer: SentenceWriter) -> None:
    """ "Four people sitting on a chair." was said of four people around one chair."""
    people = [Box("person", 0.8, 0.1 + 0.2 * i, 0.1, 0.3 + 0.2 * i, 0.9) for i in range(2)]
    chair = Box("chair", 0.7, 0.1, 0.5, 0.7, 1.0)
    assert caption(writer, [*people, chair]) == "Two people."
    bench = Box("bench", 0.7, 0.1, 0.5, 0.7, 1.0)
    assert caption(writer, [*people, bench]) == "Two people sitting on a bench."


CARDIGAN, SUNGLASSES, COWBOY_HAT, SOMBRERO = 474, 836, 515, 808


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        # a garment by its kind when the kind is likelier: a cardigan is "a sweater"
        (probabilities(c474=0.4), "A person wearing a sweater."),
        (probabilities(c515=0.3, c808=0.2), "A person wearing a hat."),
        # two kinds of one garment are said once: never "a hat and a hat"
        (probabilities(c515=0.3, c808=0.3), "A person wearing a hat."),
        # two garments the classifier is sure of are both said
        (
            probabilities(c474=0.4, c836=0.3),
            "A person wearing a sweater and a pair of sunglasses.",
        ),
        # each needs its own evidence: two hats at 0.15 are not one at 0.3
        (probabilities(c515=0.15, c808=0.15), "A person."),
        # a second thing is said only beside clothing
        (probabilities(c889=0.5, c474=0.3), "A person playing a violin."),
    ],
)
def test_what_a_person_wears_is_said_by_its_kind_and_with_a_second_garment(
    writer: SentenceWriter, view: np.ndarray, expected: str
) -> None:
    assert caption(writer, [PERSON], crops={"person": view}) == expected


def test_a_road_vehicle_the_classifier_is_sure_is_another_takes_that_word(
    writer: SentenceWriter,
) -> None:
    """The detector calls a vintage convertible a truck; the classifier, sure it is some car,
    renames it with the broad word, even beside another car."""
    truck = Box("truck", 0.8, 0.05, 0.2, 0.9, 0.9)
    car = Box("car", 0.5, 0.65, 0.3, 0.99, 0.6)
    some_car = probabilities(c511=0.6, c817=0.2)  # a convertible, a sports car
    assert caption(writer, [truck], crops={"truck": some_car}) == "A car."
    assert "truck" not in caption(writer, [truck, car], crops={"truck": some_car})
    # unsure: the detector's word stays
    assert caption(writer, [truck], crops={"truck": probabilities(c511=0.4)}) == "A truck."
