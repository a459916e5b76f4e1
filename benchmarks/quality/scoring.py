"""Scores a caption against the words expected of it.

A caption is scored on the groups of synonyms it mentions, not on exact wording, so a rewrite of
the sentence templates does not move the score; only naming more (or fewer) right things does.
Matching is by whole words, in any case, and accepts plurals ("puppies" for "puppy", "geese" for
"goose"), since counts are part of a good caption.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

IRREGULAR_PLURALS = {
    "child": "children",
    "foot": "feet",
    "goose": "geese",
    "man": "men",
    "mouse": "mice",
    "ox": "oxen",
    "person": "people",
    "tooth": "teeth",
    "woman": "women",
}


@dataclass(frozen=True)
class Score:
    matched: tuple[bool, ...]  # one per expected group
    forbidden_found: tuple[str, ...]

    @property
    def hit_rate(self) -> float:
        return sum(self.matched) / len(self.matched) if self.matched else 0.0


def score(caption: str, expected: Sequence[Sequence[str]], forbidden: Sequence[str] = ()) -> Score:
    matched = tuple(any(mentions(caption, word) for word in group) for group in expected)
    found = tuple(word for word in forbidden if mentions(caption, word))
    return Score(matched, found)


def mentions(caption: str, phrase: str) -> bool:
    return _pattern(phrase.lower()).search(caption) is not None


@cache
def _pattern(phrase: str) -> re.Pattern[str]:
    """Whole words; a space in the phrase also matches a hyphen ("space suit", "space-suit")."""
    *head, last = phrase.split()
    words = [re.escape(word) for word in head]
    words.append("(?:" + "|".join(re.escape(form) for form in _forms(last)) + ")")
    return re.compile(r"(?<!\w)" + r"[\s-]+".join(words) + r"(?!\w)", re.IGNORECASE)


def _forms(word: str) -> list[str]:
    forms = [word, word + "s", word + "es"]
    if word in IRREGULAR_PLURALS:
        forms.append(IRREGULAR_PLURALS[word])
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "o", "u"):
        forms.append(word[:-1] + "ies")
    if word.endswith("f"):
        forms.append(word[:-1] + "ves")
    if word.endswith("fe"):
        forms.append(word[:-2] + "ves")
    return forms
