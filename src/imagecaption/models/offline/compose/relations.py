"""How two things in a picture relate, read from where their boxes lie.

Boxes say nothing about intent, so only relations that the geometry nearly proves are read:
someone whose lower body is on a bicycle is riding it, a phone inside someone's box is held, a
cat whose bottom edge rests within a couch is on it. Anything less certain is "with" or "and",
and anything far apart is not related at all.
"""

from __future__ import annotations

from imagecaption.models.offline.compose.riding import BOARDS, rides, stands_on
from imagecaption.models.offline.compose.things import Thing
from imagecaption.models.offline.regions import Box

# How much of a small held thing must lie within the person's box.
HELD_INSIDE = 0.6
# Held things are small next to the person holding them.
HELD_SIZE = 0.5
# How far (in the subject's widths) a ball may be and still be the subject's.
BALL_REACH = 1.5
# A seat must take this much of the sitter's lower part.
SEAT_OVERLAP = 0.3
# Something a person stands in front of is at least this much bigger than the person.
BACKDROP_SIZE = 1.5
# Two things side by side: similar heights, horizontal gap under one subject width.
SIDE_BY_SIDE_GAP = 1.0

# Seats that several people or animals share.
SHARED_SEATS = frozenset({"couch", "bench", "bed"})
RIDE_VERBS = {"skis": "on", "snowboard": "on", "surfboard": "on"}
HELD_VERBS = {"kite": "flying", "umbrella": "holding"}
WORN_VERBS = {"tie": "wearing", "backpack": "carrying", "handbag": "carrying"}


def relate(subject: Thing, other: Thing) -> str | None:
    """The words between ``subject`` and ``other`` ("riding", "sitting on", "holding"), or None.

    Only relations of one subject are read from its largest box; several people riding one
    bicycle, or each holding the same phone, are not claimed.
    """
    me, it = subject.main, other.main
    if subject.has("person"):
        if other.noun.label in BOARDS and subject.count <= other.count and stands_on(me, it):
            return RIDE_VERBS.get(other.noun.label, "riding")
        if other.has("ride") and subject.count <= other.count and rides(me, it):
            return RIDE_VERBS.get(other.noun.label, "riding")
        if subject.count == 1 and other.count == 1:
            if other.noun.label == "kite" and it.bottom < me.top:
                return "flying"
            if other.has("worn") and _held(me, it):
                return WORN_VERBS.get(other.noun.label, "with")
            if other.has("held") and _held(me, it):
                return HELD_VERBS.get(other.noun.label, "holding")
    if subject.animate:
        if other.has("seat") and _sits(me, it) and _room_for(subject, other):
            return "sitting on" if subject.has("person") else "on"
        if other.has("ball") and _near(me, it):
            return "with"
        if other.has("table") and _sits(me, it):
            return "at"
        if other.has("vehicle") and it.area >= BACKDROP_SIZE * me.area and me.inside(it) > 0.3:
            return "in front of"
        if other.animate and _side_by_side(me, it):
            return "next to"
        return None
    if other.has("table") and rests_on(me, it):
        return "on"
    return None


def _room_for(sitters: Thing, seats: Thing) -> bool:
    """Whether the seats hold the sitters: one each, or several on a couch, a bench or a bed
    ("four people sitting on a chair" was said of four people round a chair)."""
    return sitters.count <= seats.count or seats.noun.label in SHARED_SEATS


def _held(person: Box, thing: Box) -> bool:
    return thing.inside(person) >= HELD_INSIDE and thing.area <= HELD_SIZE * person.area


def _sits(sitter: Box, seat: Box) -> bool:
    """The sitter's lower third lies on the seat, and the sitter is not wholly below it."""
    third = sitter.bottom - sitter.height / 3
    lower = Box(sitter.left, third, sitter.right, sitter.bottom, 1.0)
    return lower.inside(seat) >= SEAT_OVERLAP and sitter.top < seat.bottom


def rests_on(thing: Box, surface: Box) -> bool:
    """A thing's bottom edge lies within a table's box."""
    x = thing.centre[0]
    return surface.left <= x <= surface.right and surface.top <= thing.bottom <= surface.bottom


def _near(subject: Box, thing: Box) -> bool:
    dx = abs(subject.centre[0] - thing.centre[0])
    dy = abs(subject.centre[1] - thing.centre[1])
    reach = BALL_REACH * max(subject.width, subject.height)
    return dx <= reach and dy <= reach


def _side_by_side(a: Box, b: Box) -> bool:
    similar = min(a.height, b.height) >= 0.5 * max(a.height, b.height)
    gap = max(a.left, b.left) - min(a.right, b.right)
    return similar and gap <= SIDE_BY_SIDE_GAP * min(a.width, b.width)
