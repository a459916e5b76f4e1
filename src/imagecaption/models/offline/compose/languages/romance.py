"""French, Spanish, Portuguese and Italian: the article from gender (and in Italian from the
next word's sound), the colour after the noun agreeing with it, the doing and relation after
the subject ("un chien jouant avec un ballon", "un perro jugando con una pelota"), and each
language's contractions of preposition and article (``contractions.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from imagecaption.models.offline.compose.languages.contractions import CONTRACT
from imagecaption.models.offline.compose.languages.grammar import Agreement, Grammar, Part
from imagecaption.models.offline.compose.languages.words import Words
from imagecaption.models.offline.compose.plans import Ref

# Italian masculine nouns take "uno" before s + consonant, z, gn, ps, pn, x and y.
ITALIAN_UNO = re.compile(r"^(s[^aeiouàèéìòù]|z|gn|ps|pn|x|y)", re.IGNORECASE)
ITALIAN_VOWEL = re.compile(r"^[aeiouàèéìòùh]", re.IGNORECASE)
# Spanish feminine nouns with a stressed first "a" take "un": "un águila".
SPANISH_STRESSED_A = frozenset(
    {"águila", "agua", "ave", "arma", "hacha", "alma", "área", "arpa", "ala", "alga", "ancla"}
    | {"asa", "aula", "haba", "hada", "hambre", "ánfora", "ágata", "aspa", "arca", "ama"}
)


def french(gender: str, following: str, definite: bool = False) -> str:
    """ "un", "une"; "le", "la" ("le accordéon" is elided to "l'accordéon" later)."""
    if definite:
        return "la " if gender == "f" else "le "
    return "une " if gender == "f" else "un "


def spanish(gender: str, following: str, definite: bool = False) -> str:
    feminine = gender == "f" and following.split(" ", 1)[0].lower() not in SPANISH_STRESSED_A
    if definite:
        return "la " if feminine else "el "
    return "una " if feminine else "un "


def portuguese(gender: str, following: str, definite: bool = False) -> str:
    if definite:
        return "a " if gender == "f" else "o "
    return "uma " if gender == "f" else "um "


def italian(gender: str, following: str, definite: bool = False) -> str:
    vowel = ITALIAN_VOWEL.match(following)
    if gender == "f":
        if vowel:
            return "l'" if definite else "un'"
        return "la " if definite else "una "
    if definite:
        return "l'" if vowel else "lo " if ITALIAN_UNO.match(following) else "il "
    return "uno " if ITALIAN_UNO.match(following) else "un "


ARTICLES: dict[str, Callable[[str, str, bool], str]] = {
    "fr": french,
    "es": spanish,
    "pt": portuguese,
    "it": italian,
}


class Romance(Grammar):
    def __init__(self, words: Words) -> None:
        super().__init__(words)
        self._article = ARTICLES[words.tag]

    def np(self, ref: Ref, case: str = "nom") -> str:
        """The noun phrase; ``case`` "def" asks for the definite article ("jouant de {def}":
        "jouant du violon")."""
        entry = self.words.noun(ref)
        phrase = self.bare(ref)
        if ref.count > 1:
            counts = self.words.counts
            number = counts.get(str(ref.count), counts["several"])
            return f"{_gendered(number, entry.gender)} {phrase}"
        if not entry.article or entry.gender == "pl":
            return phrase
        return self._article(entry.gender, phrase, case == "def") + phrase

    def bare(self, ref: Ref) -> str:
        entry = self.words.noun(ref)
        if ref.count > 1:
            return entry.plural or entry.singular
        if ref.colour is None:
            return entry.singular
        return f"{entry.singular} {_gendered(self.words.colours[ref.colour], entry.gender)}"

    def clause(
        self, subject: str, agreement: Agreement, parts: Sequence[Part], place: str | None
    ) -> str:
        return " ".join([subject, *(part.text for part in parts), *([place] if place else [])])

    def contract(self, text: str) -> str:
        return CONTRACT[self.words.tag](text)


def _gendered(word: str, gender: str) -> str:
    """The masculine or feminine form of ``word``, written "masculine|feminine" where they
    differ ("rouge", "blanc|blanche", "dois|duas")."""
    forms = word.split("|")
    return forms[-1] if gender == "f" else forms[0]
