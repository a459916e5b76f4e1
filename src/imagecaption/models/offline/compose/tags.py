"""Tags for ``details=true``: every thing, setting and activity found, each with how likely it
is there, as the hosted vision APIs (Azure, Google, AWS) list them beside their captions.

A tag is a word or short phrase without an article ("dog", "golden retriever", "grass",
"outdoor", "walking"), scored by the evidence for it alone: the detector's score for a thing,
the classifier's probability for what it names, the surroundings' for a place, the pose model's
for a posture. Tags say more than the caption (which names two or three things), never less
sure things than the caption rules would use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from imagecaption.models.base import Tag
from imagecaption.models.offline.compose.activities import POSE_CONFIDENCE
from imagecaption.models.offline.compose.naming import ClassNames
from imagecaption.models.offline.compose.things import Thing, without_article
from imagecaption.models.offline.evidence import Pose, Surroundings

# Nothing less likely than this is tagged.
TAG_CONFIDENCE = 0.3
# "indoor" or "outdoor" is tagged when one of them is at least this likely.
INDOOR_OUTDOOR = 0.6


def tags_of(
    things: Sequence[Thing],
    names: ClassNames,
    scene: np.ndarray,
    poses: Sequence[Pose],
    surroundings: Surroundings | None,
    activities: Iterable[Tag] = (),
) -> tuple[Tag, ...]:
    """The tags for one picture, likeliest first, each name once with its best score."""
    found: list[Tag] = []
    for thing in things:
        found.append(Tag(thing.label, thing.score))
        if thing.label != thing.noun.label:
            found.append(Tag(thing.noun.label, thing.score))  # "golden retriever" is a "dog"
    seen = names.subject(scene)
    if seen is not None:
        found.append(Tag(without_article(seen.phrase), seen.score))
    setting = names.setting(scene)
    if setting is not None:
        found.append(Tag(without_article(setting.phrase), setting.score))
    found += _surroundings(surroundings)
    found += [
        Tag(pose.activity, pose.score)
        for pose in poses
        if pose.activity is not None and pose.score >= POSE_CONFIDENCE
    ]
    found += activities
    best: dict[str, float] = {}
    for tag in found:
        if tag.score >= TAG_CONFIDENCE and tag.score > best.get(tag.name, -1.0):
            best[tag.name] = tag.score
    ranked = sorted(best.items(), key=lambda item: -item[1])
    return tuple(Tag(name, round(min(1.0, score), 4)) for name, score in ranked)


def _surroundings(surroundings: Surroundings | None) -> list[Tag]:
    if surroundings is None:
        return []
    found = [Tag(place.name, place.score) for place in surroundings.ground]
    found += [Tag(place.name, place.score) for place in surroundings.background]
    indoors = surroundings.indoors
    if indoors is not None and indoors >= INDOOR_OUTDOOR:
        found.append(Tag("indoor", indoors))
    elif indoors is not None and 1.0 - indoors >= INDOOR_OUTDOOR:
        found.append(Tag("outdoor", 1.0 - indoors))
    if surroundings.night:
        found.append(Tag("night", surroundings.night))
    if surroundings.sunset:
        found.append(Tag("sunset", surroundings.sunset))
    return found


def tags_in(tags: Sequence[Tag], name: Callable[[str], str]) -> tuple[Tag, ...]:
    """``tags`` (likeliest first) with their names in another language, each name once: two
    English words may be one word there."""
    named: dict[str, float] = {}
    for tag in tags:
        named.setdefault(name(tag.name), tag.score)
    return tuple(Tag(word, score) for word, score in named.items())
