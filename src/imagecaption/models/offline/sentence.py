"""Short English sentences from classifier probabilities and the people found in a photo.

Templates, not a language model: a 135M-parameter model tried earlier invented details and was a
hundred times slower. Every word comes from the label table or from a template here, so a caption
can misname what the classifier saw but never adds things that nothing detected.

The classifier spreads probability over look-alike classes (three kinds of tabby, twenty terriers),
so confidence is judged at four levels, from specific to general: the phrase ("a tabby cat"), the
group ("a cat"), the category ("a bird", "a vehicle") and, for living things, "an animal". The most
specific level that is confident enough names the subject; when none is, the caption says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from imagecaption.models.base import Candidate, Caption, CaptionOptions
from imagecaption.models.offline.labels import Label
from imagecaption.models.offline.people import People

# Probability a phrase, group, category or "animal" needs before the caption names it.
PHRASE_CONFIDENCE = 0.50
GROUP_CONFIDENCE = 0.55
CATEGORY_CONFIDENCE = 0.60
ANIMAL_CONFIDENCE = 0.70
# Below every level: guess with a hedge down to this probability, then admit defeat.
HEDGE_CONFIDENCE = 0.15
# What a person wears or holds, and where a photo was taken, are extras: a wrong extra spoils an
# otherwise right caption, so they need more evidence than a hedged subject.
ATTRIBUTE_CONFIDENCE = 0.25
# Saying someone rides something describes the whole scene, and sleds and go-karts are what the
# classifier mistakes space suits and racing overalls for, so that claim needs more.
RIDE_CONFIDENCE = 0.40
SETTING_CONFIDENCE = 0.20
# Alternatives offered when several captions are asked for (the API allows up to ten).
ALTERNATIVES = 12

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
# ("a person with a baseball player") read as nonsense.
NOT_ATTRIBUTES = SETTINGS | {"document", "person"}

HEDGE = "an image that may show {}"
SHORT_HEDGE = "possibly {}"
UNCLEAR = ("an image with no clearly recognizable subject", "an unclear image")
PORTRAIT = "a portrait of {}"
ARTICLES = ("a", "an")


@dataclass(frozen=True)
class _Level:
    """Class probabilities summed by a key; an empty phrase can never be named at this level."""

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

    def find(self, probabilities: np.ndarray, phrase: str) -> _Thing:
        """``phrase`` (which must be a key of this level) with its summed probability."""
        index = self.phrases.index(phrase)
        return _Thing(phrase, self.examples[index], float(self.sums(probabilities)[index]))

    def best(self, probabilities: np.ndarray) -> _Thing | None:
        """The most likely nameable phrase at this level; None when nothing here is possible."""
        sums = self.sums(probabilities)
        index = int(np.argmax(sums))
        if sums[index] <= 0:
            return None
        return _Thing(self.phrases[index], self.examples[index], float(sums[index]))


@dataclass(frozen=True)
class _Thing:
    """Something the caption may name: its phrase, what kind it is, and its probability."""

    phrase: str
    label: Label
    score: float


@dataclass(frozen=True)
class _Draft:
    """A caption as lower-case forms, longest first, so a word limit can pick a shorter one."""

    forms: tuple[str, ...]
    score: float

    def render(self, max_words: int | None) -> str:
        """The longest form within ``max_words``, else the last form cut down to its head.

        English noun phrases end in their head noun, except around "of", where the noun after it
        carries the meaning: "a golden retriever" is cut to "Retriever.", "a cup of espresso" to
        "Espresso.". The leading article goes first, as it carries nothing.
        """
        if max_words is None:
            text = self.forms[0]
        else:
            limit = max(1, max_words)
            text = next((form for form in self.forms if len(form.split()) <= limit), "")
            if not text:
                words = self.forms[-1].rpartition(" of ")[2].split()
                if len(words) > 1 and words[0] in ARTICLES:
                    words = words[1:]
                text = " ".join(words[-limit:])
        return text[0].upper() + text[1:] + "."


def _forms(*forms: str) -> tuple[str, ...]:
    """Drop repeated forms while keeping the order."""
    return tuple(dict.fromkeys(forms))


class SentenceWriter:
    """Writes the captions for one image from what the models found in it."""

    def __init__(self, labels: Sequence[Label]) -> None:
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

    def write(
        self,
        scene: np.ndarray,
        people: People | None,
        person_view: np.ndarray | None,
        options: CaptionOptions,
    ) -> Caption:
        """Caption one image.

        ``scene`` holds the classifier's probabilities for the whole image; ``person_view`` those
        for the main person's surroundings, used to say what they wear or hold. ``max_length``
        counts words: that is what a reader notices, and characters would split words.
        """
        ranked = self._ranked(scene)
        setting = self._setting(ranked)
        subject = self._subject(scene)
        drafts = self._describe(scene, subject, ranked, setting)
        if people is not None:
            # With people in view, "an unclear image" is no longer a fair summary.
            known = drafts if subject is not None else drafts[1:]
            drafts = self._with_people(people, self._ranked(person_view), setting) + known
        texts: dict[str, float] = {}
        for draft in drafts:
            texts.setdefault(draft.render(options.max_length), draft.score)
        primary, score = next(iter(texts.items()))
        if options.num_captions <= 1:
            return Caption(text=primary, score=score)
        others = sorted(list(texts.items())[1:], key=lambda item: -item[1])
        chosen = [(primary, score), *others][: options.num_captions]
        return Caption(
            text=primary,
            score=score,
            candidates=tuple(Candidate(text=text, score=value) for text, value in chosen),
        )

    def _ranked(self, probabilities: np.ndarray | None) -> list[_Thing]:
        """Phrases from most to least likely (enough of them for every use here)."""
        if probabilities is None:
            return []
        sums = self._phrases.sums(probabilities)
        order = np.argsort(-sums)[: ALTERNATIVES * 2]
        return [
            _Thing(self._phrases.phrases[i], self._phrases.examples[i], float(sums[i]))
            for i in order
        ]

    def _setting(self, ranked: Sequence[_Thing]) -> _Thing | None:
        """Where the photo was taken ("on a beach"), when a scene or place is likely enough."""
        for thing in ranked:
            if thing.label.category in SETTINGS and thing.score >= SETTING_CONFIDENCE:
                return thing
        return None

    def _subject(self, probabilities: np.ndarray) -> _Thing | None:
        """The most specific description that is confident enough, if any."""
        for level in self._levels:
            best = level.best(probabilities)
            if best is not None and best.score >= level.confidence:
                return best
        return None

    def _describe(
        self,
        scene: np.ndarray,
        subject: _Thing | None,
        ranked: Sequence[_Thing],
        setting: _Thing | None,
    ) -> list[_Draft]:
        """Captions from the classifier alone: the best one first, then alternatives.

        Unsure, the caption hedges on the top phrase or, when likelier, on its group: a missile
        and a rocket launch together make "a rocket" more likely than either alone. Another
        group would not do: big ones like the 118 dog breeds collect probability from noise.
        """
        group = self._levels[1].best(scene)
        if subject is None:
            best = ranked[0]
            if best.label.group:
                grouped = self._levels[1].find(scene, best.label.group)
                best = grouped if grouped.score > best.score else best
            if best.score >= HEDGE_CONFIDENCE:
                first = _Draft(
                    _forms(HEDGE.format(best.phrase), SHORT_HEDGE.format(best.phrase), best.phrase),
                    best.score,
                )
            else:  # scored by how likely it is that the best guess is wrong
                first = _Draft(UNCLEAR, 1.0 - best.score)
        elif setting is not None and subject.label.category not in SETTINGS:
            first = _Draft(
                _forms(f"{subject.phrase} {setting.label.context}", subject.phrase),
                subject.score * setting.score,
            )
        else:
            first = _Draft((subject.phrase,), subject.score)
        general = [_Draft((group.phrase,), group.score)] if group is not None else []
        return [first, *general] + [_Draft((thing.phrase,), thing.score) for thing in ranked]

    def _with_people(
        self, people: People, ranked: Sequence[_Thing], setting: _Thing | None
    ) -> list[_Draft]:
        """Captions about the people in the photo, best first; the classifier's go after them."""
        subject = people.noun_phrase
        kind = next((thing for thing in ranked if thing.label.category == "person"), None)
        if people.count == 1 and kind is not None and kind.score >= ATTRIBUTE_CONFIDENCE:
            subject = kind.phrase  # "a scuba diver" says more than "a person"
        attributes = [thing for thing in ranked if self._attaches(thing, people)]
        lead = PORTRAIT.format(subject) if people.portrait else subject
        where = f" {setting.label.context}" if setting is not None else ""
        where_score = setting.score if setting is not None else 1.0
        drafts: list[_Draft] = []
        best = attributes[0] if attributes else None
        if best is not None and best.score >= _attribute_confidence(best):
            relation = _relation(best)
            drafts.append(
                _Draft(
                    _forms(
                        f"{lead} {relation}{where}",
                        f"{lead} {relation}",
                        f"{subject} {relation}",
                        subject,
                    ),
                    people.score * best.score * where_score,
                )
            )
        drafts.append(_Draft(_forms(f"{lead}{where}", lead, subject), people.score * where_score))
        drafts.extend(
            _Draft(_forms(f"{subject} {_relation(thing)}", subject), people.score * thing.score)
            for thing in attributes
        )
        return drafts

    @staticmethod
    def _attaches(thing: _Thing, people: People) -> bool:
        """Whether ``thing`` can be said of the people found ("a person wearing a tie")."""
        category = thing.label.category
        return category not in NOT_ATTRIBUTES and (people.count == 1 or category not in SINGULAR)


def _relation(thing: _Thing) -> str:
    """How a person relates to ``thing``: the table's own wording, else the category's."""
    return thing.label.context or f"{RELATIONS.get(thing.label.category, 'with')} {thing.phrase}"


def _attribute_confidence(thing: _Thing) -> float:
    return RIDE_CONFIDENCE if thing.label.category == "ride" else ATTRIBUTE_CONFIDENCE
