"""Captions as drafts: each a list of ever shorter wordings, so a word limit can pick one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from imagecaption.models.base import Tag
from imagecaption.models.offline.compose.plans import Plan

ARTICLES = ("a", "an")

Source = Literal["scene", "subject", "classifier", "hedge", "kind", "group", "guess", "unclear"]
"""Which rule wrote a draft: the detector's scene ("scene"), another detected subject's
("subject"), the classifier's confident reading of the whole picture ("classifier"), its hedge
("hedge"), the kind of picture ("kind"), the classifier's likeliest group ("group") or one of
its next guesses ("guess"), or the admission that nothing is clear ("unclear"). Each rule's raw
scores mean something different, so each is calibrated on its own (``confidence.py``)."""


@dataclass(frozen=True)
class Draft:
    """A caption as lower-case forms, longest first, the rule's raw score (the product of
    the evidence it used), and which rule wrote it."""

    forms: tuple[str, ...]
    score: float
    source: Source = "scene"
    activities: tuple[Tag, ...] = ()
    """What the sentence says its subject does ("walking", "grazing"), for the tags."""
    plans: tuple[Plan, ...] = ()
    """The forms as plans, longest first, for the other languages' realisers (``plans.py``);
    English is written from the rules directly, in ``forms``."""

    def reworded(self, *wordings: str, plans: Sequence[Plan] = ()) -> Draft:
        """The same draft with ``wordings`` (and their ``plans``) put before its own forms."""
        return replace(self, forms=forms(*wordings, *self.forms), plans=(*plans, *self.plans))

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


def forms(*wordings: str) -> tuple[str, ...]:
    """Drop repeated and empty wordings while keeping the order."""
    return tuple(dict.fromkeys(wording for wording in wordings if wording))
