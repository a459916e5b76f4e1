"""Where a picture was taken: read from the things in it, or from the classifier's scene classes.

Objects that belong to one kind of room or place say where a photo was taken more reliably than
the ImageNet classifier does for rooms (it has no "kitchen" class): an oven and a refrigerator
make a kitchen. Outdoor scenes are the reverse: the classifier knows beaches, mountains and
valleys, the detector knows nothing of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from imagecaption.models.offline.compose.naming import Named
from imagecaption.models.offline.compose.things import Thing

# (role, how many distinct kinds of thing with that role are needed, the words): the first rule
# that holds names the setting.
ROOMS = (
    ("kitchen", 2, "in a kitchen"),
    ("bedroom", 1, "in a bedroom"),
    ("living", 2, "in a living room"),
    ("office", 2, "at a desk"),
    ("street", 2, "on a street"),
)
# Three or more vehicles on the road make a street even without a traffic light.
STREET_VEHICLES = 3
# The classifier's setting must beat this when objects also suggest one.
CLASSIFIER_OVER_OBJECTS = 0.45


def setting_of(things: Sequence[Thing], classified: Named | None, used: set[str]) -> str | None:
    """The words for where the picture was taken, or None when nothing makes it clear.

    ``used`` holds the COCO labels the sentence already names in a relation ("on a bed"), so
    that a bed is not also "in a bedroom".
    """
    from_objects = _from_objects(things, used)
    if (
        classified is not None
        and classified.label.context
        and (from_objects is None or classified.score >= CLASSIFIER_OVER_OBJECTS)
    ):
        return classified.label.context
    return from_objects


def _from_objects(things: Sequence[Thing], used: set[str]) -> str | None:
    free = [thing for thing in things if thing.noun.label not in used]
    if any(thing.noun.label == "toilet" for thing in things):
        return "in a bathroom"  # a sink alone could be a kitchen's
    for role, kinds, words in ROOMS:
        if sum(thing.has(role) for thing in free) >= kinds:
            return words
    vehicles = sum(thing.count for thing in things if thing.has("vehicle") and thing.has("street"))
    if vehicles >= STREET_VEHICLES:
        return "on a street"
    return None
