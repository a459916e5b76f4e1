"""What every language's grammar provides to the realiser, and the template notation they share.

A template (a relation, a doing, a frame in a word table) holds slots for the noun phrase it
names, ``{np}`` (or in German its case: ``{nom}``, ``{acc}``, ``{dat}``), ``{def}`` (with the
definite article in the Romance languages: "jouant de {def}", "jouant du violon") and ``{bare}``
(the noun without article, in the singular: "andando de {bare}"), and choices that agree with
the subject: ``[sg|pl]`` by number ("[sitzt|sitzen]") or ``[m.sg|f.sg|m.pl|f.pl]`` by gender
and number ("[assis|assise|assis|assises]").
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from imagecaption.models.offline.compose.languages.words import Words
from imagecaption.models.offline.compose.plans import Ref

CHOICE = re.compile(r"\[([^\]]*)\]")
SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Part:
    """A doing or a relation in words, and whether it holds a verb that agrees with the subject
    (a choice in its template), which German puts last."""

    text: str
    verbal: bool


@dataclass(frozen=True)
class Agreement:
    """What words agreeing with the subject need: its number and its gender."""

    plural: bool
    gender: str

    def choose(self, options: Sequence[str]) -> str:
        if len(options) == 2:
            return options[self.plural]
        if len(options) == 4:
            return options[2 * self.plural + (self.gender == "f")]
        raise ValueError(f"a choice needs 2 or 4 options: {'|'.join(options)!r}")


class Grammar(ABC):
    """A language's noun phrases, clause order and contractions."""

    head_first = True
    """Whether a noun phrase begins with its head noun ("chat tigré"), else ends with it
    ("getigerte Katze"): a word limit keeps the head."""

    def __init__(self, words: Words) -> None:
        self.words = words

    @abstractmethod
    def np(self, ref: Ref, case: str = "nom") -> str:
        """The noun phrase with its article, number and colour, in ``case``."""

    @abstractmethod
    def bare(self, ref: Ref) -> str:
        """The noun without article, as a tag or after a preposition that takes none."""

    @abstractmethod
    def clause(
        self, subject: str, agreement: Agreement, parts: Sequence[Part], place: str | None
    ) -> str:
        """The subject with what it does (``parts``: a doing, a relation) and where."""

    def contract(self, text: str) -> str:
        """The text with the language's contractions made ("de le" to "du")."""
        return text

    def agreement(self, refs: Sequence[Ref]) -> Agreement:
        """Several subjects, or several of one, are plural; a plural is feminine only when all
        of its nouns are."""
        genders = [self.words.noun(ref).gender for ref in refs]
        plural = len(refs) > 1 or any(ref.count > 1 for ref in refs) or genders == ["pl"]
        if plural:
            return Agreement(True, "f" if all(g == "f" for g in genders) else "m")
        return Agreement(False, genders[0] if genders else "m")

    def listed(self, phrases: Sequence[str]) -> str:
        """ "a, b and c" in the language."""
        if len(phrases) <= 1:
            return "".join(phrases)
        return f"{', '.join(phrases[:-1])} {self.words.words['and']} {phrases[-1]}"

    def fill(self, template: str, agreement: Agreement, refs: Sequence[Ref] = ()) -> str:
        """``template`` with its choices made for ``agreement`` and its slots filled with
        ``refs`` (joined by "and")."""
        chosen = CHOICE.sub(lambda m: agreement.choose(m.group(1).split("|")), template)

        def slot(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "bare":  # the kind of thing, however many: "andando de bicicleta"
                return self.listed([self.bare(Ref(ref.key, label=ref.label)) for ref in refs])
            case = "nom" if name == "np" else name
            return self.listed([self.np(ref, case) for ref in refs])

        return SLOT.sub(slot, chosen)
