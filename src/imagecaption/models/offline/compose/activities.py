"""What the subject does, from the pose stage and the boxes: "walking", "playing with a ball",
"eating at a table", "lying on a couch", "grazing".

The pose stage reads each detected person's posture (standing, sitting, lying, walking,
running); the boxes say what is within reach. An activity is said only where both point the
same way: a ball beside a child is played with, a person at a table with food on it eats, a dog
much wider than tall on a couch lies on it, cattle on grass graze. Anything less is left to the
plain relation ("with a ball", "at a table", "on a couch") or to nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from imagecaption.models.offline.compose.relations import relate, rests_on
from imagecaption.models.offline.compose.things import Thing, without_article
from imagecaption.models.offline.evidence import Pose
from imagecaption.models.offline.regions import Box

# How likely a posture must be before a caption says it.
POSE_CONFIDENCE = 0.6
# A pose belongs to a person box when their boxes overlap at least this much.
SAME_PERSON = 0.5
# For a group, at least this share of the people with a clear posture must share it, and at
# least this share of the group must have a clear one.
GROUP_AGREEMENT = 2 / 3
GROUP_SEEN = 0.5
# A posture alone says little ("a person standing."), so these are said only with a relation
# or a place after them; the others are worth saying on their own.
NEEDS_COMPANY = frozenset({"standing"})
# Relations after which a posture still reads well: "a person walking next to a dog".
WITH_POSTURE = ("next to ", "in front of ", "at ")
# A lying animal's box is at least this much wider than tall, in pixels.
LYING_SHAPE = 1.4
# Animals that graze on grass, and the grounds they graze on: the detector's, and the grazing
# animals the classifier names a box or a picture by (an ox reads "a cow", a ram "a sheep", a
# sorrel "a horse"), as their names without the article.
GRAZERS = frozenset(
    {"cow", "sheep", "horse", "zebra", "giraffe", "elephant", "bison", "water buffalo",
     "bighorn sheep", "hartebeest", "impala", "gazelle", "llama"}
)  # fmt: skip
PASTURE = frozenset({"grass", "field"})
# Balls and frisbees within this many of the player's widths or heights are played with.
PLAY_REACH = 1.5
# A racket or bat held with a ball in the picture: the game, said instead of the holding.
GAMES = {"tennis racket": "playing tennis", "baseball bat": "playing baseball"}


@dataclass(frozen=True)
class Doing:
    """An activity as words after the subject, how likely it is, and its name as a tag."""

    words: str
    score: float
    name: str
    verb: str = ""
    """The words without their object ("eating at", "playing with"), where they have one: the
    relation a plan names (``plans.py``)."""


def posture(subject: Thing, poses: Sequence[Pose]) -> Doing | None:
    """The posture the subject's people share, when the pose stage is sure of it: the main
    person's for one, the agreed one for a group."""
    if not subject.has("person") or not poses:
        return None
    seen = [pose for box in subject.boxes if (pose := _pose_of(box, poses)) is not None]
    if not seen:
        return None
    if subject.count == 1:
        pose = seen[0] if _pose_of(subject.main, poses) is seen[0] else None
        if pose is None or pose.activity is None:
            return None
        return Doing(pose.activity, pose.score, pose.activity)
    activities = Counter(pose.activity for pose in seen if pose.activity is not None)
    if not activities or len(seen) < GROUP_SEEN * subject.count:
        return None
    activity, agreeing = activities.most_common(1)[0]
    if agreeing < GROUP_AGREEMENT * len(seen):
        return None
    scores = [pose.score for pose in seen if pose.activity == activity]
    return Doing(activity, sum(scores) / len(scores), activity)


def with_posture(doing: Doing | None, relation: str, place: bool) -> Doing | None:
    """The posture, when it reads well before the relation already chosen ("walking next to a
    dog", never "standing riding a bicycle") and is worth saying there."""
    if doing is None:
        return None
    if relation and not relation.startswith(WITH_POSTURE):
        return None
    if doing.name in NEEDS_COMPANY and not relation and not place:
        return None
    return doing


def related_activity(
    subject: Thing,
    other: Thing,
    verb: str,
    things: Sequence[Thing],
    aspect: float,
) -> Doing | None:
    """An activity that the relation read from the boxes makes plain, replacing it: "playing
    with a ball" for "with a ball", "eating at a table", "lying on a couch"; None to keep the
    plain relation."""
    phrase = other.phrase()
    if subject.has("person") and verb == "at" and other.has("table"):
        food = [t for t in things if t.has("food") and rests_on(t.main, other.main)]
        if any(t.main.intersection(subject.main) > 0 or _near(t.main, subject.main) for t in food):
            score = max(t.score for t in food)
            return Doing(f"eating at {phrase}", score, "eating", "eating at")
    lying = subject.has("animal") and verb == "on" and other.has("seat")
    if lying and _wide(subject.main, aspect):
        return Doing(f"lying on {phrase}", 1.0, "lying", "lying on")
    return None


def playing(subject: Thing, others: Sequence[Thing]) -> tuple[Thing, Doing] | None:
    """A ball or a frisbee within a person's or an animal's reach is played with ("a dog
    playing with a frisbee"), and a held racket or bat with a ball about is its game."""
    if not subject.animate:
        return None
    ball = next((other for other in others if other.has("ball")), None)
    for other in others:
        game = GAMES.get(other.noun.label)
        if game and ball is not None and relate(subject, other) == "holding":
            return other, Doing(game, ball.score, "playing")
    for other in others:
        toy = other.has("ball") or other.noun.label == "frisbee"
        if toy and other.count == 1 and _within_reach(subject.main, other.main):
            doing = Doing(f"playing with {other.phrase()}", other.score, "playing", "playing with")
            return other, doing
    return None


def grazing(subject: Thing, ground: str | None) -> Doing | None:
    """Cattle, sheep and horses on grass or in a field are grazing; the place follows."""
    return grazing_named(subject.noun.label, ground)


def grazing_named(name: str, ground: str | None) -> Doing | None:
    """A grazing animal on grass or in a field is grazing, by the detector's label ("cow") or
    by the classifier's phrase ("a bison")."""
    if without_article(name) in GRAZERS and ground in PASTURE:
        return Doing("grazing", 1.0, "grazing")
    return None


def _pose_of(box: Box, poses: Sequence[Pose]) -> Pose | None:
    """The pose read inside ``box``, when the pose stage is sure enough of it."""
    best = max(poses, key=lambda pose: pose.box.overlap(box), default=None)
    if best is None or best.box.overlap(box) < SAME_PERSON or best.score < POSE_CONFIDENCE:
        return None
    return best


def _within_reach(player: Box, thing: Box) -> bool:
    reach = PLAY_REACH * max(player.width, player.height)
    dx = abs(player.centre[0] - thing.centre[0])
    dy = abs(player.centre[1] - thing.centre[1])
    return dx <= reach and dy <= reach


def _near(thing: Box, person: Box) -> bool:
    """Within half a person's width of the person's box, sideways."""
    gap = max(thing.left - person.right, person.left - thing.right)
    return gap <= 0.5 * person.width


def _wide(box: Box, aspect: float) -> bool:
    return box.height > 0 and box.width * aspect >= LYING_SHAPE * box.height
