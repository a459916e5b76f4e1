"""What the ImageNet classifier's probabilities name, from the most specific to the broadest.

The classifier spreads probability over look-alike classes (three kinds of tabby, twenty
terriers), so confidence is judged at four levels, from specific to general: the phrase ("a tabby
cat"), the group ("a cat"), the category ("a bird", "a vehicle") and, for living things, "an
animal". The most specific level that is confident enough names a thing; below every level the
caption hedges or says less. Used for the whole picture and for the crops of detected boxes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from imagecaption.models.offline.labels import Label

# Probability a phrase, group, category or "animal" needs before a caption names it.
PHRASE_CONFIDENCE = 0.50
GROUP_CONFIDENCE = 0.55
CATEGORY_CONFIDENCE = 0.60
ANIMAL_CONFIDENCE = 0.70
# Where the photo was taken needs less: a wrong setting spoils less than a wrong subject.
SETTING_CONFIDENCE = 0.20
# How many ranked phrases any caption can use (alternatives included).
RANKED = 24
# Classes that haze, fog and mist imitate (a misty lake or forest reads as "a geyser" at 0.3):
# named, as a subject, feature, setting or guess, only where the phrase itself is confident.
HAZE_LOOKALIKES = frozenset({"a geyser"})

GENERIC = {
    "dog": "a dog",
    "cat": "a cat",
    "bird": "a bird",
    "fish": "a fish",
    "reptile": "a reptile",
    "amphibian": "an amphibian",
    "insect": "an insect",
    "invertebrate": "a small creature",
    "mammal": "a wild animal",
    "person": "a person",
    "plant": "a plant",
    "fungus": "a mushroom",
    "clothing": "an item of clothing",
    "instrument": "a musical instrument",
    "food": "a plate of food",
    "drink": "a drink",
    "sports": "sports equipment",
    "device": "an electronic device",
    "tool": "a tool",
    "furniture": "a piece of furniture",
    "vehicle": "a vehicle",
    "aircraft": "an aircraft",
    "boat": "a boat",
    "building": "a building",
    "scene": "a landscape",
}
ANIMALS = frozenset(
    {"dog", "cat", "bird", "fish", "reptile", "amphibian", "insect", "invertebrate", "mammal"}
)
SETTINGS = frozenset({"scene", "place"})


@dataclass(frozen=True)
class Named:
    """Something the classifier names: its phrase, the class it stands for, and its probability."""

    phrase: str
    label: Label
    score: float


@dataclass(frozen=True)
class _Level:
    """Class probabilities summed by a key; an empty key can never be named at this level."""

    ids: np.ndarray
    phrases: tuple[str, ...]
    examples: tuple[Label, ...]
    nameable: np.ndarray
    confidence: float

    @classmethod
    def build(
        cls, labels: Sequence[Label], key: Callable[[Label], str], confidence: float
    ) -> _Level:
        index: dict[str, int] = {}
        examples: list[Label] = []
        for label in labels:
            if key(label) not in index:
                index[key(label)] = len(index)
                examples.append(label)
        phrases = tuple(index)
        return cls(
            ids=np.array([index[key(label)] for label in labels]),
            phrases=phrases,
            examples=tuple(examples),
            nameable=np.array([bool(phrase) for phrase in phrases]),
            confidence=confidence,
        )

    def sums(self, probabilities: np.ndarray) -> np.ndarray:
        totals = np.bincount(self.ids, weights=probabilities, minlength=len(self.phrases))
        return np.where(self.nameable, totals, 0.0)

    def find(self, probabilities: np.ndarray, phrase: str) -> Named:
        """``phrase`` (which must be a key of this level) with its summed probability."""
        index = self.phrases.index(phrase)
        return Named(phrase, self.examples[index], float(self.sums(probabilities)[index]))

    def best(self, probabilities: np.ndarray) -> Named | None:
        """The most likely nameable phrase at this level; None when nothing here is possible."""
        sums = self.sums(probabilities)
        index = int(np.argmax(sums))
        if sums[index] <= 0:
            return None
        return Named(self.phrases[index], self.examples[index], float(sums[index]))


class ClassNames:
    """Reads classifier probabilities as things a caption may name."""

    def __init__(self, labels: Sequence[Label]) -> None:
        self.labels = tuple(labels)
        self._levels = (
            _Level.build(labels, lambda label: label.phrase, PHRASE_CONFIDENCE),
            _Level.build(labels, lambda label: label.group, GROUP_CONFIDENCE),
            _Level.build(
                labels, lambda label: GENERIC.get(label.category, ""), CATEGORY_CONFIDENCE
            ),
            _Level.build(
                labels,
                lambda label: "an animal" if label.category in ANIMALS else "",
                ANIMAL_CONFIDENCE,
            ),
        )
        self._phrases = self._levels[0]
        self._category_masks: dict[frozenset[str], np.ndarray] = {}

    def subject(self, probabilities: np.ndarray, levels: int = 4) -> Named | None:
        """The most specific description that is confident enough, if any, looking no
        broader than the first ``levels`` levels (2: a phrase or a group)."""
        for level in self._levels[:levels]:
            best = level.best(probabilities)
            if best is not None and best.score >= level.confidence:
                return best
        return None

    def likelihood(self, probabilities: np.ndarray, named: Named) -> float:
        """How likely ``probabilities`` make what ``named`` names: its class's phrase, or its
        group where that is likelier (a sweater seen as a cardigan here, a pullover there)."""
        phrase = self._levels[0].find(probabilities, named.label.phrase).score
        if not named.label.group:
            return phrase
        return max(phrase, self._levels[1].find(probabilities, named.label.group).score)

    def group(self, probabilities: np.ndarray) -> Named | None:
        """The likeliest group ("a cat" over its five breeds), confident or not."""
        return self._levels[1].best(probabilities)

    def group_of(self, probabilities: np.ndarray, named: Named) -> Named:
        """``named``'s group when that is likelier than ``named`` itself, else ``named``.

        A missile and a rocket launch together make "a rocket" more likely than either alone.
        """
        if not named.label.group:
            return named
        grouped = self._levels[1].find(probabilities, named.label.group)
        return grouped if grouped.score > named.score else named

    def ranked(self, probabilities: np.ndarray | None) -> list[Named]:
        """Phrases from most to least likely (enough of them for every use here)."""
        if probabilities is None:
            return []
        sums = self._phrases.sums(probabilities)
        order = np.argsort(-sums)[:RANKED]
        ranked = (
            Named(self._phrases.phrases[i], self._phrases.examples[i], float(sums[i]))
            for i in order
        )
        return [named for named in ranked if not _haze_lookalike(named)]

    def setting(self, probabilities: np.ndarray) -> Named | None:
        """Where the photo was taken ("on a beach"), when a scene or place is likely enough."""
        for named in self.ranked(probabilities):
            if named.label.category in SETTINGS and named.score >= SETTING_CONFIDENCE:
                return named
        return None

    def mask(self, accepts: Callable[[Label], bool]) -> np.ndarray:
        """Which classes ``accepts``; computed once per caller and kept, not per image."""
        return np.array([accepts(label) for label in self.labels])

    def refine(
        self, probabilities: np.ndarray, mask: np.ndarray, confidence: float
    ) -> Named | None:
        """The most specific name among the classes in ``mask``, when the classifier is sure of
        it; None when it is unsure or thinks the box holds something else.

        A broad word beats a wrong specific one: the detector's "a bird" stays unless the crop's
        probability is concentrated on one phrase (or one group) of birds.
        """
        if not mask.any() or float(probabilities[mask].sum()) < confidence:
            return None
        kept = np.where(mask, probabilities, 0.0)
        for level in self._levels[:2]:
            best = level.best(kept)
            if best is not None and best.score >= confidence:
                return best
        return None

    def category_mass(self, probabilities: np.ndarray, categories: frozenset[str]) -> float:
        """Total probability of the classes in ``categories`` (buildings, scenes, ...)."""
        mask = self._category_masks.get(categories)
        if mask is None:
            mask = self.mask(lambda label: label.category in categories)
            self._category_masks[categories] = mask
        return float(probabilities[mask].sum())


def _haze_lookalike(named: Named) -> bool:
    """Whether ``named`` is a class that mist imitates, with no more than mist's probability."""
    return named.label.phrase in HAZE_LOOKALIKES and named.score < PHRASE_CONFIDENCE
