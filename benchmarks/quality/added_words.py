"""Words some evidence adds to a caption, and the thresholds a rule saying them would need.

Each added word is marked expected where the picture's word groups list it: a floor on how often
it is right, since the groups do not list every true thing. The thresholds are fitted on the
tuning photos only, so that what they reach on held-out photos is a fair measure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.quality.evidence_words import Word
from benchmarks.quality.photos import Case
from benchmarks.quality.scoring import mentions


@dataclass(frozen=True)
class Added:
    """A word evidence adds to a caption, and whether the picture's word groups list it."""

    word: Word
    expected: bool


def added_words(before: str, words: Sequence[Word], case: Case) -> tuple[Added, ...]:
    """The words of ``words`` that ``before`` does not say, once each (at the surest
    evidence for it), and whether each is expected of the picture."""
    seen: dict[str, Added] = {}
    for word in words:
        bare = plain(word.text.removeprefix("a ").removeprefix("an ").removeprefix("the "))
        if not bare or mentions(before, bare):
            continue
        if bare in seen and seen[bare].word.score >= word.score:
            continue
        expected = any(mentions(word.text, name) for group in case.expected for name in group)
        seen[bare] = Added(Word(bare, word.source, word.score), expected)
    return tuple(seen.values())


# A rule that says a word wherever its evidence reaches a threshold: the thresholds are fitted on
# the tuning photos, per kind of evidence and per word of it that they give often enough.
PRECISION = 0.5
LEAST_WORDS = 8
LEAST_KEPT = 4
THRESHOLDS = tuple(step / 20 for step in range(20))
Key = tuple[str, str]  # (source, word), or (source, "") for the whole source


def fit_thresholds(tuning: Sequence[Sequence[Added]]) -> dict[Key, float | None]:
    """From the words evidence adds to each tuning photo's caption: for each source, and each
    word a source gives at least LEAST_WORDS times, the lowest threshold at which at least half
    the words it would add are expected of the picture; None where no threshold is that precise
    (never say it)."""
    gathered: dict[Key, list[Added]] = {}
    for picture in tuning:
        for added in picture:
            gathered.setdefault((added.word.source, added.word.text), []).append(added)
            gathered.setdefault((added.word.source, ""), []).append(added)
    fitted: dict[Key, float | None] = {}
    for key, words in gathered.items():
        if key[1] and len(words) < LEAST_WORDS:
            continue
        fitted[key] = None
        for threshold in THRESHOLDS:
            kept = [added for added in words if added.word.score >= threshold]
            if len(kept) >= LEAST_KEPT and sum(a.expected for a in kept) >= PRECISION * len(kept):
                fitted[key] = threshold
                break
    return fitted


def said(added: Added, fitted: dict[Key, float | None]) -> bool:
    """Whether the rule says the word: by its word's own threshold where the tuning photos gave
    it often enough, else by its source's."""
    word = added.word
    key = (word.source, word.text) if (word.source, word.text) in fitted else (word.source, "")
    threshold = fitted.get(key)
    return threshold is not None and word.score >= threshold


def plain(word: str) -> str:
    """The word as the counts key it: lower case, single spaces."""
    return re.sub(r"\s+", " ", word.lower())
