"""Every key a language's word table must hold: each thing, place, relation, doing, colour,
count, frame and tag the English rules can write. ``missing(words)`` lists the absent ones, so
that a new table can be checked before it ships (the tests run it on every table)."""

from __future__ import annotations

from collections.abc import Mapping

from imagecaption.models.offline.colours import NAMES as COLOUR_NAMES
from imagecaption.models.offline.compose.activities import GAMES
from imagecaption.models.offline.compose.classified import RELATIONS
from imagecaption.models.offline.compose.languages.words import Words
from imagecaption.models.offline.compose.naming import GENERIC
from imagecaption.models.offline.compose.places import (
    BACKGROUND,
    GROUND,
    TIMES_OF_DAY,
    WITH_A_LAWN,
    backdrop_words,
)
from imagecaption.models.offline.compose.plans import GROUP_OF_PEOPLE
from imagecaption.models.offline.compose.relations import HELD_VERBS, RIDE_VERBS, WORN_VERBS
from imagecaption.models.offline.compose.sentence import UNCLEAR
from imagecaption.models.offline.compose.setting import ROOMS
from imagecaption.models.offline.compose.text import AFTER_SUBJECT, WHOLE
from imagecaption.models.offline.compose.vocabulary import NUMBERS, load_nouns
from imagecaption.models.offline.labels import load_labels

KINDS = (
    "a page of text", "a landscape", "a building", "an interior",
    "a close-up of a textured surface", "a black and white photo",
)  # fmt: skip
PLACES = (
    "on the water", "in the sky", "against the sky", "in a room", "in a bathroom", "on a street",
)  # fmt: skip
RELATED = (
    "riding", "on", "flying", "with", "holding", "sitting on", "at", "in front of", "next to",
    "eating at", "lying on", "playing with",
)  # fmt: skip
DOINGS = ("standing", "sitting", "lying", "walking", "running", "grazing")
FRAMES = ("hedge", "possibly", "portrait", "black and white photo", "black and white portrait")
TAGS = ("indoor", "outdoor", "sky", "night", "sunset", "eating", "playing")
WORDS = ("and",)


def required() -> dict[str, set[str]]:
    """The keys each table of a language must hold."""
    labels = load_labels()
    contexts = {label.context for label in labels if label.context}
    nouns = {label.phrase for label in labels} | {label.group for label in labels if label.group}
    nouns |= set(GENERIC.values()) | {"an animal", GROUP_OF_PEOPLE, *KINDS, *UNCLEAR}
    nouns |= {noun.singular for noun in load_nouns().values()}
    relations = {*RELATED, *RELATIONS.values(), *RIDE_VERBS.values(), *HELD_VERBS.values()}
    relations |= set(WORN_VERBS.values()) | set(GAMES.values())
    places = {*GROUND.values(), *BACKGROUND.values(), *PLACES, *(words for *_, words in ROOMS)}
    places |= {*TIMES_OF_DAY, WITH_A_LAWN, *map(backdrop_words, COLOUR_NAMES)}
    return {
        "noun": nouns,
        "place": contexts | places,
        "relation": relations,
        "doing": set(DOINGS),
        "frame": {*FRAMES, *AFTER_SUBJECT, *WHOLE},
        "colour": set(COLOUR_NAMES),
        "count": {*map(str, NUMBERS), "several"},
        "tag": {*TAGS, *GROUND, *BACKGROUND, *DOINGS},
        "word": set(WORDS),
    }


def missing(words: Words) -> list[str]:
    """``kind: key`` for every required key the table lacks, sorted."""
    tables: dict[str, Mapping[str, object]] = {"noun": words.nouns, **words.texts()}
    absent = []
    for kind, keys in required().items():
        table = tables[kind]
        # A context said as a relation ("in a canoe") is found among the places.
        extra: Mapping[str, object] = words.places if kind == "relation" else {}
        absent += [f"{kind}: {key}" for key in keys if key not in table and key not in extra]
    for noun in load_nouns().values():  # the detector's things are counted: "zwei Hunde"
        entry = words.nouns.get(f"coco:{noun.label}") or words.nouns.get(noun.singular)
        if entry is not None and not entry.plural and entry.gender != "pl":
            absent.append(f"plural: {noun.singular}")
    return sorted(absent)
