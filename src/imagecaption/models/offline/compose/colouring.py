"""The subject's colour in its name, where the colour stage found it clear: "a red bus",
"a black cat".

Never for people (a person's colour is their clothes', and a caption must not seem to say
anything else), never where the name already carries a colour ("a green apple", "a black
widow") or a breed that implies one ("a dalmatian", "a tabby cat"), and only for one thing: the
colour is of the largest box, not of every one.
"""

from __future__ import annotations

from collections.abc import Mapping

from imagecaption.models.offline.compose.things import Thing, without_article
from imagecaption.models.offline.evidence import Colour

# How sure the colour stage must be before a caption says a colour.
COLOUR_CONFIDENCE = 0.6
COLOUR_WORDS = frozenset(
    {
        "black", "white", "grey", "gray", "red", "orange", "yellow", "green", "blue",
        "purple", "pink", "brown", "golden", "silver", "tabby", "spotted", "striped",
    }
)  # fmt: skip
VOWELS = tuple("aeiou")


def colour_of(thing: Thing, colours: Mapping[str, Colour]) -> Colour | None:
    """The clear colour of ``thing``, when a caption may say it."""
    colour = colours.get(thing.detected or thing.noun.label)
    if colour is None or colour.score < COLOUR_CONFIDENCE or thing.count != 1:
        return None
    if thing.has("person") or set(thing.phrase().split()) & COLOUR_WORDS:
        return None
    if thing.has("animal") and thing.name is not None:
        return None  # a breed or species says more, and its colour with it
    return colour


def coloured(phrase: str, colour: Colour) -> str:
    """``phrase`` ("a bus", "an umbrella") with the colour before its noun: "a red bus",
    "an orange umbrella"."""
    bare = without_article(phrase)
    if bare == phrase:
        return f"{colour.name} {phrase}"
    article = "an" if colour.name.startswith(VOWELS) else "a"
    return f"{article} {colour.name} {bare}"
