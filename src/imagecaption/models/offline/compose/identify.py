"""The classifier's second look at a detected box: confirm it, name it precisely, or correct it.

The small detector confuses things the ImageNet classifier tells apart easily (a dalmatian it
calls a giraffe, a bottle cap a cake, puppies a person), while the classifier knows nothing of
where things are. So the largest boxes are cropped and classified: where the classifier agrees
with the detector's kind, its more precise name is used ("a tabby cat"); where it is sure of
something else, its word replaces the detector's; where it is unsure, the detector's broad word
stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from imagecaption.models.offline.compose.naming import ANIMALS, SETTINGS, ClassNames, Named
from imagecaption.models.offline.compose.things import Thing, without_article
from imagecaption.models.offline.compose.vocabulary import Noun

# A box's fine-grained name replaces the detector's word only when the classifier puts this
# much probability on it within the classes that agree with the detector.
REFINE_CONFIDENCE = 0.55
# ImageNet has no SUV or hatchback, so the classifier puts their crops on the nearest of its
# kinds of car (a convertible, a station wagon, a jeep) with some confidence: a vehicle keeps
# the detector's broad word unless the classifier is much surer.
VEHICLE_REFINE_CONFIDENCE = 0.7
# The classifier overrules the detector when it names one kind of thing with its usual
# confidence (a dalmatian), or a group of them (some dog) with more confidence than the
# detector has in its own word by this margin: a confident detection of a horse's silhouette
# is not undone by a classifier that spreads its guesses over twenty breeds of dog.
CORRECT_MARGIN = 0.15
# A small box the detector is unsure of, in which the classifier's closer look sees nothing of
# its kind (under this much probability for all the agreeing classes together), is left out: a
# pile of coins the detector calls a clock. So is such a box of a kind the classifier has no
# class for (a stop sign, a kite) when it is the only thing found, so that nothing confirms it:
# a beach umbrella seen from above is not a stop sign. Big or confident boxes stay, as the
# classifier often misses a kind it has few photos of (a sleeping cat seen from above).
UNSEEN_MASS = 0.01
UNSEEN_SCORE = 0.6
UNSEEN_AREA = 0.05
# Kinds of vehicle the two models name differently (a motorcycle the classifier calls a moped)
# are not corrections: the detector's broad word is right.
VEHICLES = frozenset({"vehicle", "ride", "boat", "aircraft"})
# Except between the road vehicles the detector itself confuses (a vintage convertible it calls
# a truck): where the classifier puts VEHICLE_REFINE_CONFIDENCE on the kinds of another of
# them, that one's word is used, still the detector's broad one ("a car", not "a convertible").
ROAD_VEHICLES = frozenset({"car", "truck", "bus"})
# The same holds for the other kinds the detector confuses among themselves: paper cups seen
# from above that it calls bowls are cups where the crop is as sure of cups.
CONFUSED_KINDS = (ROAD_VEHICLES, frozenset({"cup", "bowl"}))
CONFUSED_CONFIDENCE = VEHICLE_REFINE_CONFIDENCE
# What a person's box may turn out to be: ImageNet has no "person" class, and crops of people
# are often, and rightly, "a suit" or "a violin", which are what they wear or play, not them.
NOT_A_PERSON = ANIMALS | {"food"}
# An animal box in which the classifier's closer look finds little of the detector's kind (under
# this much probability) and more of other animals holds an animal that neither model knows (a
# rhinoceros, which ImageNet lacks, that the detector calls an elephant): it is named broadly,
# "an animal", not by a word the classifier doubts. A kind the classifier merely finds hard to
# see (a kitten curled up in yarn) keeps its word, as no other animal outweighs it.
UNCONFIRMED_ANIMAL = 0.25
ANIMAL = Noun(
    label="animal",
    singular="an animal",
    plural="animals",
    roles=frozenset({"animal"}),
    imagenet=(),
    min_score=0.0,
    coco=False,
)
# What a table's crop shows of these stands on it: a table box the classifier sees as a cup of
# espresso is the table under the cup, not the cup, and stays a table ("a cup of espresso on a
# table", with the cup from the classifier's view of the whole picture).
ON_TABLES = frozenset({"food", "drink"})
ROLE_OF_CATEGORY = {category: "animal" for category in ANIMALS} | {
    "food": "food",
    "drink": "food",
    "person": "person",
}


class BoxNamer:
    """Names detected things from the classifier's probabilities for their largest box."""

    def __init__(self, names: ClassNames, nouns: Mapping[str, Noun]) -> None:
        self._names = names
        self._masks = {
            noun.label: names.mask(noun.agrees_with) for noun in nouns.values() if noun.imagenet
        }
        self._confused = {
            label: [nouns[other] for other in sorted(kinds) if other in self._masks]
            for kinds in CONFUSED_KINDS
            for label in kinds
        }

    def unseen(self, thing: Thing, crop: np.ndarray | None, alone: bool = False) -> bool:
        """Whether the classifier's closer look at a small, unsure box finds nothing of the
        detector's kind in it, or, for the only thing detected, cannot confirm it at all (a
        skateboard under a person is confirmed by the person)."""
        if crop is None or thing.has("person"):
            return False
        small = thing.main.area < UNSEEN_AREA and thing.score < UNSEEN_SCORE
        mask = self._masks.get(thing.noun.label)
        if mask is None:
            return small and alone
        return small and float(crop[mask].sum()) < UNSEEN_MASS

    def identify(self, thing: Thing, crop: np.ndarray | None) -> Thing:
        if crop is None:
            return thing
        thing = self._confused_kind(thing, crop)
        mask = self._masks.get(thing.noun.label)
        if mask is not None and thing.count == 1:
            confidence = VEHICLE_REFINE_CONFIDENCE if thing.has("vehicle") else REFINE_CONFIDENCE
            refined = self._names.refine(crop, mask, confidence)
            if refined is not None:
                return thing.named(refined.phrase)
        seen = self._names.subject(crop, levels=1)
        if seen is None:  # a group ("a dog") needs a margin over the detector's own score
            seen = self._names.subject(crop, levels=2)
            if seen is None or seen.score < thing.score + CORRECT_MARGIN:
                return self._broad_animal(thing, crop, mask)
        if self._agrees(thing, seen, mask):
            return thing
        if seen.label.category in SETTINGS:
            return thing
        if thing.has("person") and seen.label.category not in NOT_A_PERSON:
            return thing
        if thing.has("table") and seen.label.category in ON_TABLES:
            return thing
        return _corrected(thing, seen)

    def _confused_kind(self, thing: Thing, crop: np.ndarray) -> Thing:
        """A thing renamed as another kind the detector confuses it with (a truck as a car,
        bowls as cups) where the classifier is sure."""
        if thing.noun.label not in self._confused or (thing.has("vehicle") and thing.count != 1):
            return thing
        for noun in self._confused[thing.noun.label]:
            mass = float(crop[self._masks[noun.label]].sum())
            if noun is not thing.noun and mass >= CONFUSED_CONFIDENCE:
                return replace(thing, noun=noun, name=None, detected=thing.noun.label)
        return thing

    def _broad_animal(self, thing: Thing, crop: np.ndarray, mask: np.ndarray | None) -> Thing:
        """``thing`` as "an animal" where its crop shows other animals more than its kind."""
        if not thing.has("animal") or mask is None:
            return thing
        agreeing = float(crop[mask].sum())
        others = self._names.category_mass(crop, ANIMALS) - agreeing
        if agreeing >= UNCONFIRMED_ANIMAL or others <= agreeing:
            return thing
        return replace(thing, noun=ANIMAL, name=None)

    @staticmethod
    def _agrees(thing: Thing, seen: Named, mask: np.ndarray | None) -> bool:
        if thing.has("person"):
            return seen.label.category == "person"
        if thing.has("vehicle") and seen.label.category in VEHICLES:
            return True
        return mask is not None and thing.noun.agrees_with(seen.label)


def _corrected(thing: Thing, seen: Named) -> Thing:
    """``thing``'s largest box, renamed as the classifier saw it (one of them: its phrase has
    no plural)."""
    noun = Noun(
        label=without_article(seen.phrase),
        singular=seen.phrase,
        plural=seen.phrase,
        roles=frozenset({ROLE_OF_CATEGORY.get(seen.label.category, "thing")}),
        imagenet=(),
        min_score=0.0,
        coco=False,
    )
    return replace(thing, noun=noun, boxes=thing.boxes[:1], name=None)
