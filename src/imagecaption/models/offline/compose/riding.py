"""Whether a person's box lies on something ridden, read from the boxes alone.

Shared by the relations (``relations.py``: "riding a bicycle", "on skis") and the counting of
things (``things.py``), where a rider's geometry vouches for a ridden thing the detector was
only fairly sure of.
"""

from __future__ import annotations

from imagecaption.models.offline.regions import Box

# How much of the rider's lower half must lie on what is ridden.
RIDING_OVERLAP = 0.25
# Boards are ridden standing on them: they lie under the feet, not under the body.
BOARDS = frozenset({"skis", "snowboard", "surfboard", "skateboard"})
# The feet: this bottom share of a person's box.
FEET = 0.25


def rides(rider: Box, ridden: Box) -> bool:
    """The rider's lower half overlaps what is ridden, and the rider is above its middle."""
    lower = Box(rider.left, (rider.top + rider.bottom) / 2, rider.right, rider.bottom, 1.0)
    return lower.inside(ridden) >= RIDING_OVERLAP and rider.top < ridden.centre[1]


def stands_on(person: Box, board: Box) -> bool:
    """The board lies across the bottom of the person's box, where the feet are."""
    feet = person.bottom - FEET * person.height
    reaches = board.top <= person.bottom + FEET * person.height and board.bottom >= feet
    shared = min(person.right, board.right) - max(person.left, board.left)
    return reaches and shared >= 0.3 * min(person.width, board.width)


def ridden_by(label: str, ridden: Box, rider: Box) -> bool:
    """Whether ``rider`` rides the thing of ``label`` in ``ridden``: stands on a board, sits
    on anything else."""
    return stands_on(rider, ridden) if label in BOARDS else rides(rider, ridden)
