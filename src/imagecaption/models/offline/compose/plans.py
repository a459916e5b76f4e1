"""What a caption says, before any language puts it into words.

The rules decide what a picture shows (a subject, how many, its colour, what it does, how it
relates to another thing, where, what kind of picture, how sure); a plan holds those decisions,
and each language's realiser (``languages/``) writes them in its own grammar: articles, gender
and number agreement, case, word order. Everything is named by its English key (the phrase the
label tables use: "a tabby cat", "on the grass", "riding"), which every language's word table
translates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# Several people beyond the counted numbers are "a group of people" in every language.
GROUP_OF_PEOPLE = "a group of people"


@dataclass(frozen=True)
class Ref:
    """A noun phrase: which thing (its English phrase for one: "a dog", "a tabby cat"), how
    many, and its colour, where the caption says one."""

    key: str
    count: int = 1
    colour: str | None = None
    label: str | None = None
    """The detector's category, for a detected thing: a language may word it apart from the
    English phrase it shares with an ImageNet class (``coco:kite``, the toy, not the bird)."""


@dataclass(frozen=True)
class Plan:
    """One wording of a caption, as decisions.

    ``subjects`` are named together ("a dog and a cat"); ``doing`` is what they do without an
    object ("walking", "grazing", "playing tennis"); ``relation`` links them to ``other`` ("riding"
    a bicycle), and to ``also`` after it ("wearing" a hat and a sweater), or, without ``other``,
    is a place-like attribute ("in a canoe"); ``place`` is where ("on the grass", "in a kitchen",
    "on the grass at night"). ``frame`` wraps the subject ("portrait": "a portrait of
    ...", "hedge": "an image that may show ...", "possibly", "black and white photo", "black and
    white portrait"). ``text`` says how the words read in the picture go in: after the subject
    ("showing", "reads", "with the words") or as the whole caption ("screenshot", "page",
    "sign", "words"), with ``quote`` exactly as read.
    """

    subjects: tuple[Ref, ...] = ()
    doing: str | None = None
    relation: str | None = None
    other: Ref | None = None
    also: Ref | None = None
    place: str | None = None
    frame: str | None = None
    text: str | None = None
    quote: str = ""

    def with_subject(self, ref: Ref, position: int = 1) -> Plan:
        """The plan with ``ref`` named among its subjects ("a building and four people")."""
        subjects = (*self.subjects[:position], ref, *self.subjects[position:])
        return replace(self, subjects=subjects)


def plan_of(key: str) -> Plan:
    """A caption that names one thing: "a landscape", "a tabby cat"."""
    return Plan(subjects=(Ref(key),))
