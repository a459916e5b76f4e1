"""Captions from the ImageNet classifier alone: for pictures in which the detector found nothing
it knows (a rocket, a cup of espresso, a lighthouse), and for what a person wears or plays.

Every word comes from the label table or from a template here, so a caption can misname what the
classifier saw but never adds things that nothing detected.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from imagecaption.models.offline.compose.drafts import Draft, Source, forms
from imagecaption.models.offline.compose.naming import (
    ANIMALS,
    GENERIC,
    SETTINGS,
    ClassNames,
    Named,
)
from imagecaption.models.offline.compose.plans import Plan, Ref, plan_of

# Below every level of confidence: guess with a hedge down to this probability, then say what
# kind of picture it is instead.
HEDGE_CONFIDENCE = 0.15
# What a person wears or holds is an extra: a wrong extra spoils an otherwise right caption, so
# it needs more evidence than a hedged subject.
ATTRIBUTE_CONFIDENCE = 0.25
# Saying someone rides something describes the whole scene, and sleds and go-karts are what the
# classifier mistakes space suits and racing overalls for, so that claim needs more.
RIDE_CONFIDENCE = 0.40
# The crop of a person this small (a share of the picture) is a few dozen pixels blown up to the
# classifier's input, and what it sees there is mostly the background (a sawmill for a hiker on
# a hillside): an attribute of so small a person needs the classifier to be this sure.
SMALL_PERSON = 0.02
SMALL_PERSON_ATTRIBUTE = 0.5
# How a person relates to a thing of each category; "with" for the rest.
RELATIONS = {
    "clothing": "wearing",
    "instrument": "playing",
    "ride": "on",
    "vehicle": "next to",
    "furniture": "next to",
    "aircraft": "in front of",
    "boat": "in front of",
    "building": "in front of",
}
# Relations that only make sense for one person ("two people playing a violin" is wrong).
SINGULAR = frozenset({"clothing", "instrument", "ride"})
# Never an attribute of a person: settings are added separately, and documents or other people
# ("a person with a baseball player") read as nonsense. Nor an animal: one beside a person is the
# detector's to find, and in a person's crop the classifier's animals are mistakes (a gar for bare
# legs over a cliff).
NOT_ATTRIBUTES = SETTINGS | ANIMALS | {"document", "person"}

# A landscape's likeliest feature is named when it has this probability on its own.
LANDSCAPE_FEATURE = 0.25
HEDGE = "an image that may show {}"
SHORT_HEDGE = "possibly {}"


def describe(
    names: ClassNames, scene: np.ndarray, setting: Named | None
) -> tuple[Draft | None, list[Draft]]:
    """The classifier's best caption (None when it is too unsure to say anything), and
    alternatives from its other likely phrases."""
    subject = names.subject(scene)
    ranked = names.ranked(scene)
    group = names.group(scene)
    first: Draft | None
    if subject is None:
        best = names.group_of(scene, ranked[0])
        first = None
        if best.score >= HEDGE_CONFIDENCE:
            guessed = plan_of(best.phrase)
            first = Draft(
                forms(HEDGE.format(best.phrase), SHORT_HEDGE.format(best.phrase), best.phrase),
                best.score,
                "hedge",
                plans=(
                    replace(guessed, frame="hedge"),
                    replace(guessed, frame="possibly"),
                    guessed,
                ),
            )
    elif setting is not None and subject.label.category not in SETTINGS:
        first = Draft(
            forms(f"{subject.phrase} {setting.label.context}", subject.phrase),
            subject.score * setting.score,
            "classifier",
            plans=(
                replace(plan_of(subject.phrase), place=setting.label.context),
                plan_of(subject.phrase),
            ),
        )
    elif subject.label.category in SETTINGS and subject.phrase == GENERIC.get(
        subject.label.category
    ):
        first = _landscape(names, scene, subject)
    else:
        first = named_draft(subject, "classifier")
    others = [named_draft(group, "group")] if group is not None else []
    others += [named_draft(named, "guess") for named in ranked]
    return first, others


def _landscape(names: ClassNames, scene: np.ndarray, subject: Named) -> Draft:
    """ "A landscape" made specific by its likeliest feature, when that is likely enough on its
    own: "a landscape with a mountain" (a snowy one and a volcano together)."""
    feature = next(
        (named for named in names.ranked(scene) if named.label.category == "scene"), None
    )
    if feature is not None:
        feature = names.group_of(scene, feature)
        if feature.score >= LANDSCAPE_FEATURE:
            return Draft(
                forms(f"{subject.phrase} with {feature.phrase}", subject.phrase),
                subject.score,
                "classifier",
                plans=(
                    Plan((Ref(subject.phrase),), relation="with", other=Ref(feature.phrase)),
                    plan_of(subject.phrase),
                ),
            )
    return named_draft(subject, "classifier")


def named_draft(named: Named, source: Source) -> Draft:
    """A caption that is the classifier's phrase alone: "a tabby cat"."""
    return Draft((named.phrase,), named.score, source, plans=(plan_of(named.phrase),))


@dataclass(frozen=True)
class PersonView:
    """What the classifier sees around a person: a kind of person ("a scuba diver") and what
    they wear, hold or play, each with its probability; ``also`` is a second such thing, of
    another kind, where the classifier is as sure of it ("wearing a hat and a sweater")."""

    kind: Named | None
    attribute: Named | None
    also: Named | None = None

    @property
    def relation(self) -> str | None:
        """The attributes as words after the subject: "wearing a tie", "playing a violin",
        "wearing a sweater and a pair of sunglasses"."""
        if self.attribute is None:
            return None
        first = _relation(self.attribute)
        if self.also is None:
            return first
        second = _relation(self.also)
        verb = first.split(" ", 1)[0]
        if second.startswith(verb + " ") and not self.also.label.context:
            return f"{first} and {second.removeprefix(verb + ' ')}"
        return f"{first} and {second}"

    @property
    def score(self) -> float:
        """How likely every attribute said is right."""
        scores = [named.score for named in (self.attribute, self.also) if named is not None]
        return float(np.prod(scores)) if scores else 1.0

    @property
    def planned(self) -> tuple[str, Ref | None] | None:
        """The first attribute as a plan's relation and the thing it names: ("wearing", a tie),
        or its label's context ("in a canoe") and nothing."""
        return None if self.attribute is None else _planned(self.attribute)

    @property
    def planned_also(self) -> Ref | None:
        """The second attribute as a second thing of the first one's relation ("wearing a hat
        and a sweater"); None where it has another relation, which plans leave out."""
        if self.attribute is None or self.also is None:
            return None
        first, second = _planned(self.attribute), _planned(self.also)
        same = first[0] == second[0] and first[1] is not None
        return second[1] if same else None


def _relation(thing: Named) -> str:
    context = thing.label.context
    return context or f"{RELATIONS.get(thing.label.category, 'with')} {thing.phrase}"


def _planned(thing: Named) -> tuple[str, Ref | None]:
    if thing.label.context:
        return thing.label.context, None
    return RELATIONS.get(thing.label.category, "with"), Ref(thing.phrase)


def person_view(
    names: ClassNames, probabilities: np.ndarray | None, count: int, area: float = 1.0
) -> PersonView:
    """Read the classifier's view of the main person's body; ``count`` people share the
    attribute, so singular-only ones ("playing a violin") are dropped for groups. ``area`` is
    the person's box as a share of the picture: a small one needs a surer classifier.

    Each attribute needs its own probability; clothing is then named by its group where that
    is likelier ("a sweater" for a cardigan), a broad true word over a specific guess."""
    ranked = names.ranked(probabilities)
    kind = next((named for named in ranked if named.label.category == "person"), None)
    if kind is not None and (count != 1 or kind.score < ATTRIBUTE_CONFIDENCE):
        kind = None
    if probabilities is None:
        return PersonView(kind, None)
    attributes: dict[str, Named] = {}
    for named in ranked:
        if named.label.category in NOT_ATTRIBUTES or named.score < _attribute_confidence(
            named, area
        ):
            continue
        if count != 1 and named.label.category in SINGULAR:
            continue
        broadened = _broadened(names, probabilities, named)
        attributes.setdefault(broadened.phrase, broadened)  # two hats are one "a hat"
    sure = list(attributes.values())
    best = sure[0] if sure else None
    also = next((named for named in sure[1:] if _goes_with(best, named)), None)
    return PersonView(kind, best, also)


def _broadened(names: ClassNames, probabilities: np.ndarray, named: Named) -> Named:
    """Clothing by its group where the group is likelier ("a sweater" for a cardigan): the
    kinds of a garment look alike, and the broad word is the true one. Other things keep their
    own name: "a laptop" says more than "a computer"."""
    if named.label.category != "clothing":
        return named
    return names.group_of(probabilities, named)


def _goes_with(first: Named | None, second: Named) -> bool:
    """A second attribute is said only where it cannot be the first one misread: something
    else worn beside clothing, never a second ride or instrument."""
    if first is None or second.label.category != "clothing":
        return False
    return first.label.category == "clothing"


def _attribute_confidence(named: Named, area: float) -> float:
    confidence = RIDE_CONFIDENCE if named.label.category == "ride" else ATTRIBUTE_CONFIDENCE
    return max(confidence, SMALL_PERSON_ATTRIBUTE) if area < SMALL_PERSON else confidence
