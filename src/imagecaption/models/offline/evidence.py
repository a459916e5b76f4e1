"""What the stages beyond detection and classification found: what people do, where the picture
was taken, and the colour of things.

These are plain records so that the stages that find them (``pose.py``, ``surroundings.py``,
``colours.py``) and the rules that put them into words (``compose/``) can change apart: a rule is
tested on made-up evidence, a stage against its original framework's outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from imagecaption.models.offline.regions import Box

Activity = Literal["standing", "sitting", "lying", "walking", "running"]


@dataclass(frozen=True)
class Pose:
    """One person's body as the pose model saw it inside a detected person box.

    ``activity`` is None where the visible joints do not make the posture clear (a head and
    shoulders only, say); ``score`` is how likely the activity is right, from 0 to 1.
    """

    box: Box
    activity: Activity | None
    score: float


@dataclass(frozen=True)
class Place:
    """A kind of surface or background with how likely it is there, from 0 to 1: "grass",
    "field", "water", "snow", "sand", "road", "sky", "mountains", "trees", "floor", "wall"."""

    name: str
    score: float


@dataclass(frozen=True)
class Surroundings:
    """Where the picture was taken: indoors or out, what lies below the subject (the ground)
    and behind it (the background). ``indoors`` is the probability that it is indoors, or None
    where nothing says; ``night`` the probability that it was taken outdoors at night, and
    ``sunset`` at sunset or sunrise (``skies.py``); ``backdrop`` the colour of a plain backdrop
    behind the subject, where one colour holds it."""

    indoors: float | None = None
    ground: tuple[Place, ...] = ()
    background: tuple[Place, ...] = ()
    night: float = 0.0
    backdrop: Colour | None = None
    sunset: float = 0.0


@dataclass(frozen=True)
class Colour:
    """The colour of a thing where it is clear: a basic colour word ("red", "white") and how
    sure the stage is. A thing of mixed or doubtful colour gets no Colour at all."""

    name: str
    score: float
