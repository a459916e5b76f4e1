"""From raw detections and faces to the things a caption may mention, counted.

The detector is small and weak: it finds most people, animals and vehicles, but also names a
chair a vase and a ball a remote. So every category needs its own minimum score (in
``coco_nouns.tsv``), tiny boxes are ignored, one box never counts as two kinds of thing, and
people far smaller than the main ones are passers-by, not part of the count. Each rule prefers
saying less to saying something false.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from imagecaption.models.offline.compose.plans import GROUP_OF_PEOPLE, Ref
from imagecaption.models.offline.compose.riding import BOARDS, ridden_by
from imagecaption.models.offline.compose.vocabulary import NUMBERS, Noun
from imagecaption.models.offline.regions import Box

# Boxes smaller than this fraction of the picture are too small to be sure of, or to matter.
MIN_AREA = 0.002
# Things of one kind much smaller than the largest of that kind are background, not counted.
BACKGROUND = 0.12
# Two boxes of different kinds covering the same region are one thing the detector hesitated
# over: the likelier kind is kept.
SAME_REGION = 0.7
# A board or a cycle the detector is only fairly sure of (from this score, under its category's
# minimum) counts when a person it found rides it: the rider's feet on a skateboard vouch for the
# skateboard. Not horses: a person standing before a horse has the same boxes as its rider.
VOUCHED = 0.40
VOUCHED_RIDES = BOARDS | {"bicycle", "motorcycle"}
# A person or an animal leads the sentence unless something else is far more salient ("a person
# riding a bicycle", not "a bicycle" with a person on it).
ANIMATE_LEAD = 0.15
# The body under a face, in face widths sideways and face heights up and down, for people the
# detector missed but whose faces were found (close-ups, where the body leaves the frame).
BODY_SIDEWAYS = 1.5
BODY_ABOVE = 0.5
BODY_BELOW = 3.0
# A single face this tall (as a fraction of the picture) makes the photo a portrait.
PORTRAIT_HEIGHT = 0.25
# People and animals are what a reader looks at first, whatever their size; tables and seats
# are big but are where things are, not what the picture is of.
SALIENCE_WEIGHT = {"person": 1.6, "animal": 1.3, "seat": 0.5, "table": 0.3}


class Detected(Protocol):
    """One box from a detector; coordinates are fractions of the picture's width and height."""

    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def left(self) -> float: ...
    @property
    def top(self) -> float: ...
    @property
    def right(self) -> float: ...
    @property
    def bottom(self) -> float: ...


@dataclass(frozen=True)
class Thing:
    """One kind of thing in the picture, with every box of it that counts, largest first.

    ``name`` is a more precise name for a single one ("a tabby cat"), when the classifier
    agreed with the detector on its box. ``detected`` is the detector's own label where the
    classifier renamed the box into another of the detector's kinds (a truck that is a car):
    the evidence stages, which ran before, know the box by that label.
    """

    noun: Noun
    boxes: tuple[Box, ...]
    name: str | None = None
    detected: str | None = None

    @property
    def count(self) -> int:
        return len(self.boxes)

    @property
    def main(self) -> Box:
        return self.boxes[0]

    @property
    def score(self) -> float:
        return max(box.score for box in self.boxes)

    @property
    def salience(self) -> float:
        """How much a reader would notice this kind: its area, the largest box counting most."""
        weights = [SALIENCE_WEIGHT[role] for role in self.noun.roles if role in SALIENCE_WEIGHT]
        weight = max(weights, default=1.0)
        return weight * (self.main.area + 0.5 * sum(box.area for box in self.boxes[1:]))

    def has(self, role: str) -> bool:
        return role in self.noun.roles

    @property
    def animate(self) -> bool:
        return self.has("person") or self.has("animal")

    @property
    def label(self) -> str:
        """The name without its article ("tabby cat"), or the kind's ("cat")."""
        return without_article(self.name) if self.count == 1 and self.name else self.noun.label

    def phrase(self) -> str:
        """How a sentence names these: "a tabby cat", "two dogs", "a group of people"."""
        if self.count == 1 and self.name:
            return self.name
        return self.noun.counted(self.count)

    def ref(self) -> Ref:
        """The phrase as a plan names it (``plans.py``): the thing's English phrase for one,
        and how many."""
        if self.count == 1 and self.name:
            return Ref(self.name)
        if self.count > max(NUMBERS) and self.has("person"):
            return Ref(GROUP_OF_PEOPLE)
        label = self.noun.label if self.noun.coco else None
        return Ref(self.noun.singular, self.count, label=label)

    def named(self, name: str | None) -> Thing:
        return replace(self, name=name)


def without_article(phrase: str) -> str:
    words = phrase.split(" ", 1)
    return words[-1] if words[0] in ("a", "an") else phrase


def find_things(
    detections: Iterable[Detected], faces: Sequence[Box], nouns: dict[str, Noun]
) -> tuple[tuple[Thing, ...], bool]:
    """The things worth mentioning, most salient first, and whether the photo is a portrait."""
    boxes: list[tuple[Noun, Box]] = []
    unsure: list[tuple[Noun, Box]] = []
    for found in sorted(detections, key=lambda item: -item.score):
        noun = nouns.get(found.label)
        box = Box(found.left, found.top, found.right, found.bottom, found.score)
        if noun is None or box.area < MIN_AREA:
            continue
        if found.score < noun.min_score:
            if noun.label in VOUCHED_RIDES and found.score >= VOUCHED:
                unsure.append((noun, box))
            continue
        if any(box.overlap(kept) >= SAME_REGION for _, kept in boxes):
            continue  # the same region, already taken by a likelier kind
        boxes.append((noun, box))
    person = nouns["person"]
    people = [box for noun, box in boxes if noun is person]
    boxes += _vouched(unsure, boxes, people)
    boxes += [(person, _body(face)) for face in faces if not _covered(face, people)]

    things = []
    for label in dict.fromkeys(noun.label for noun, _ in boxes):
        kind = sorted((box for noun, box in boxes if noun.label == label), key=lambda b: -b.area)
        counted = tuple(box for box in kind if box.area >= BACKGROUND * kind[0].area)
        things.append(Thing(nouns[label], counted))
    things.sort(key=lambda thing: -thing.salience)
    for role in ("animal", "person"):  # people before animals before the rest
        lead = next((thing for thing in things if thing.has(role)), None)
        if lead is not None and lead.salience >= ANIMATE_LEAD * things[0].salience:
            things.remove(lead)
            things.insert(0, lead)
    return tuple(things), _portrait(things, faces)


def _vouched(
    unsure: Sequence[tuple[Noun, Box]],
    kept: Sequence[tuple[Noun, Box]],
    people: Sequence[Box],
) -> list[tuple[Noun, Box]]:
    """The unsure rides that a detected person rides, where no likelier kind took the region."""
    vouched: list[tuple[Noun, Box]] = []
    for noun, box in unsure:
        if any(box.overlap(other) >= SAME_REGION for _, other in (*kept, *vouched)):
            continue
        if any(ridden_by(noun.label, box, rider) for rider in people):
            vouched.append((noun, box))
    return vouched


def _covered(face: Box, people: Sequence[Box]) -> bool:
    """Whether a person box already holds this face (its centre lies inside one)."""
    x = (face.left + face.right) / 2
    y = (face.top + face.bottom) / 2
    return any(box.left <= x <= box.right and box.top <= y <= box.bottom for box in people)


def _body(face: Box) -> Box:
    """The region a person's body takes under a face, clipped to the picture."""
    width = face.right - face.left
    height = face.bottom - face.top
    return Box(
        max(0.0, face.left - BODY_SIDEWAYS * width),
        max(0.0, face.top - BODY_ABOVE * height),
        min(1.0, face.right + BODY_SIDEWAYS * width),
        min(1.0, face.bottom + BODY_BELOW * height),
        face.score,
    )


def _portrait(things: Sequence[Thing], faces: Sequence[Box]) -> bool:
    """One person whose face fills a good part of the frame."""
    people = [thing for thing in things if thing.has("person")]
    if len(people) != 1 or people[0].count != 1 or not faces:
        return False
    return max(face.bottom - face.top for face in faces) >= PORTRAIT_HEIGHT
