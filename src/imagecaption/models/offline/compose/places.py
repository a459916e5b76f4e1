"""Where the subject is, from the surroundings stage, for pictures whose objects and classifier
name no setting: "on the grass", "in a field", "on a road", "in the snow", "in a room".

The surroundings stage scores kinds of ground below the subject and of background behind it.
Only a likely one is said, and in words that fit the subject: a boat is on the water and a
swimmer in it, an airplane is in the sky only when no ground lies under it, a building has the
grass before it as its lawn. A place that fits no rule here is left out rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from imagecaption.models.offline.evidence import Place, Surroundings

Bearer = Literal[
    "person", "animal", "vehicle", "boat", "aircraft", "building", "landscape", "thing"
]
"""What kind of subject a place is said of: the words differ ("in the water", "on the water")."""

# How likely a ground or background must be before a caption names it.
PLACE_CONFIDENCE = 0.5
# How likely "indoors" must be before a caption says "in a room" with nothing else to go by:
# high, as close-ups on plain backgrounds read as indoors to a scene model.
INDOORS = 0.85
GROUND = {
    "grass": "on the grass",
    "field": "in a field",
    "water": "in the water",
    "snow": "in the snow",
    "sand": "on the sand",
    "road": "on a road",
    "floor": "on the floor",
}
ON_WATER: frozenset[Bearer] = frozenset({"boat", "vehicle"})
# People on a floor are said to be in a room: "a person on the floor" suggests a fall.
NOT_ON_FLOOR: frozenset[Bearer] = frozenset({"person"})
BACKGROUND = {
    "mountains": "in the mountains",
    "trees": "in front of trees",
    "water": "by the water",
}
IN_THE_SKY: frozenset[Bearer] = frozenset({"aircraft"})
# Buildings stand on the ground they are built on: "a cottage on the grass" reads as a toy's
# place, and a room is inside them. Only what lies behind them is said.
ONLY_BEHIND: frozenset[Bearer] = frozenset({"building", "landscape"})
# Except grass before a building, which is its lawn, said where nothing sure lies behind it: "a
# thatched roof with a lawn". On the tuning photos the grass before a building was a village
# green and a garden's lawn among shrubs.
WITH_A_LAWN = "with a lawn"
# A building or a landscape is seen against the sky when the sky is likely: on the tuning photos
# every building or landscape with a sky score of 0.6 or more had one. Not said of animals: blue
# water seen from above reads as sky (a sea turtle at 0.98).
AGAINST_THE_SKY: frozenset[Bearer] = frozenset({"building", "landscape"})
SKY_BEHIND = 0.6
# A landscape is itself its mountains, trees or water: only the sky is said behind it.
SKY_ONLY: frozenset[Bearer] = frozenset({"landscape"})


# Said after a place ("on the grass at night", "against the sky at sunset") or alone.
AT_NIGHT = "at night"
AT_SUNSET = "at sunset"
TIMES_OF_DAY = (AT_NIGHT, AT_SUNSET)


@dataclass(frozen=True)
class Placed:
    """Where the subject is, as words after it, with how likely it is and the place's name."""

    words: str
    score: float
    name: str


def place_of(bearer: Bearer, surroundings: Surroundings | None) -> Placed | None:
    """The likeliest place that fits ``bearer``: its ground, else its background, else a room
    when the picture is surely indoors; then "at night" or "at sunset" where that is likely,
    after the place or alone; None when nothing is sure."""
    if surroundings is None:
        return None
    placed = _place(bearer, surroundings)
    time = _time_of_day(surroundings)
    if time is None:
        return placed
    if placed is None:
        return time
    return Placed(f"{placed.words} {time.words}", placed.score * time.score, placed.name)


def _time_of_day(surroundings: Surroundings) -> Placed | None:
    """Night, else a sunset, where likely: the stages never find both, but night is the surer."""
    if surroundings.night >= PLACE_CONFIDENCE:
        return Placed(AT_NIGHT, surroundings.night, "night")
    if surroundings.sunset >= PLACE_CONFIDENCE:
        return Placed(AT_SUNSET, surroundings.sunset, "sunset")
    return None


def _place(bearer: Bearer, surroundings: Surroundings) -> Placed | None:
    ground = _likeliest(surroundings.ground)
    if ground is not None and ground.name in GROUND and bearer not in ONLY_BEHIND:
        if ground.name == "water" and bearer in ON_WATER:
            return Placed("on the water", ground.score, ground.name)
        if not (ground.name == "floor" and bearer in NOT_ON_FLOOR):
            return Placed(GROUND[ground.name], ground.score, ground.name)
    background = _likeliest(surroundings.background)
    if background is not None:
        if background.name == "sky" and bearer in IN_THE_SKY and ground is None:
            return Placed("in the sky", background.score, background.name)
        if bearer in AGAINST_THE_SKY and (sky := _sky(surroundings)) is not None:
            return Placed("against the sky", sky.score, sky.name)
        if background.name in BACKGROUND and bearer not in SKY_ONLY:
            return Placed(BACKGROUND[background.name], background.score, background.name)
    if ground is not None and ground.name == "grass" and bearer == "building":
        return Placed(WITH_A_LAWN, ground.score, ground.name)
    indoors = surroundings.indoors
    if indoors is not None and indoors >= INDOORS and bearer not in ONLY_BEHIND:
        return Placed("in a room", indoors, "indoors")
    backdrop = surroundings.backdrop
    if backdrop is not None and bearer not in ONLY_BEHIND:
        return Placed(backdrop_words(backdrop.name), backdrop.score, "backdrop")
    return None


def backdrop_words(colour: str) -> str:
    """A plain backdrop of ``colour`` behind the subject: "against a white background"."""
    return f"against {'an' if colour[0] in 'aeiou' else 'a'} {colour} background"


def _sky(surroundings: Surroundings) -> Place | None:
    sky = next((place for place in surroundings.background if place.name == "sky"), None)
    return sky if sky is not None and sky.score >= SKY_BEHIND else None


def _likeliest(places: tuple[Place, ...]) -> Place | None:
    best = max(places, key=lambda place: place.score, default=None)
    return best if best is not None and best.score >= PLACE_CONFIDENCE else None
