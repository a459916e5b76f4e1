"""Sentence templates on made-up probabilities: fast, and independent of any model's mood."""

from __future__ import annotations

import numpy as np
import pytest

from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline.faces import Face
from imagecaption.models.offline.labels import load_labels
from imagecaption.models.offline.people import People
from imagecaption.models.offline.sentence import SentenceWriter

TABBY, TIGER_CAT, EGYPTIAN_CAT = 281, 282, 285
GOLDEN, LABRADOR, CHESAPEAKE = 207, 208, 209
SEASHORE, LIBRARY = 978, 624
SUIT, VIOLIN, SCUBA_DIVER, ESPRESSO = 834, 889, 983, 967
FACE = Face(0.4, 0.2, 0.6, 0.45, score=0.9)
ONE = People(count=1, portrait=False, score=0.9, main=FACE)
TWO = People(count=2, portrait=False, score=0.9, main=FACE)
CLOSE_UP = People(count=1, portrait=True, score=0.9, main=FACE)


@pytest.fixture(scope="module")
def writer() -> SentenceWriter:
    return SentenceWriter(load_labels())


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
    scene: np.ndarray,
    people: People | None = None,
    person_view: np.ndarray | None = None,
    max_length: int | None = None,
) -> str:
    options = CaptionOptions(max_length=max_length)
    return writer.write(scene, people, person_view, options).text


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
def test_confidence_decides_how_specific_the_caption_is(
    writer: SentenceWriter, scene: np.ndarray, expected: str
) -> None:
    assert caption(writer, scene) == expected


@pytest.mark.parametrize(
    ("people", "view", "scene", "expected"),
    [
        (ONE, probabilities(c834=0.6), probabilities(), "A person wearing a suit."),
        (ONE, probabilities(c889=0.6), probabilities(), "A person playing a violin."),
        (TWO, probabilities(c889=0.6), probabilities(), "Two people."),  # only one can play it
        (TWO, probabilities(c207=0.6), probabilities(), "Two people with a golden retriever."),
        (ONE, probabilities(c983=0.7), probabilities(), "A scuba diver."),
        (CLOSE_UP, probabilities(), probabilities(), "A portrait of a person."),
        (ONE, probabilities(), probabilities(c978=0.5), "A person on a beach."),
        (
            ONE,
            probabilities(c834=0.5),
            probabilities(c624=0.4),
            "A person wearing a suit in a library.",
        ),
        (ONE, probabilities(c967=0.1), probabilities(c967=0.1), "A person."),  # too unsure to add
    ],
)
def test_people_lead_the_sentence(
    writer: SentenceWriter, people: People, view: np.ndarray, scene: np.ndarray, expected: str
) -> None:
    assert caption(writer, scene, people, view) == expected


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
    options = CaptionOptions(max_length=max_length)
    result = writer.write(probabilities(c978=0.5), ONE, probabilities(c834=0.6), options)
    assert result.text == expected


def test_a_long_phrase_is_cut_to_its_head_noun(writer: SentenceWriter) -> None:
    assert caption(writer, probabilities(c207=0.9), max_length=2) == "Golden retriever."
    assert caption(writer, probabilities(c207=0.9), max_length=1) == "Retriever."
    assert caption(writer, probabilities(c967=0.9), max_length=3) == "Espresso."
    assert caption(writer, probabilities(c966=0.9), max_length=2) == "Red wine."


def test_several_captions_are_distinct_and_scored(writer: SentenceWriter) -> None:
    result = writer.write(
        probabilities(c281=0.5, c285=0.3), None, None, CaptionOptions(num_captions=10)
    )
    texts = [candidate.text for candidate in result.candidates]
    assert len(texts) == 10 == len(set(texts))
    assert texts[0] == result.text == "A tabby cat."
    assert result.score == result.candidates[0].score == pytest.approx(0.8, abs=1e-3)
    assert all(0.0 <= candidate.score <= 1.0 for candidate in result.candidates)
    assert "A cat." in texts


def test_one_caption_carries_no_candidates(writer: SentenceWriter) -> None:
    assert writer.write(probabilities(c207=0.9), None, None, CaptionOptions()).candidates == ()
