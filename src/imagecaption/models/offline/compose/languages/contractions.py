"""Each Romance language's contractions of a preposition and the article after it, and French
elision, made on the composed text (never on quoted words, which are put in afterwards).

The word tables may write "à le bord de le eau" or "au bord de l'eau": both read the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

# After "de", a partitive or plural article goes: "une photo de du pain" is "de pain".
FRENCH = (
    ("de du", "de"), ("de de la", "de"), ("de des", "de"),
    ("à le", "au"), ("à les", "aux"), ("de le", "du"), ("de les", "des"),
)  # fmt: skip
# French words beginning with a silent h, before which "le", "la", "de" and "que" elide
# ("l'herbe", "d'un homme"); other h words do not ("le hamster", "de hockey").
FRENCH_SILENT_H = (
    "herbe", "homme", "hommes", "hôtel", "horloge", "hélicoptère", "hippopotame", "huître",
    "hôpital", "habit", "harmonica", "hélice", "hippocampe", "hirondelle", "humain",
)  # fmt: skip
FRENCH_ELIDED = re.compile(
    r"\b(le|la|de|que|jusque|ne)\s+(?=[aeiouyàâäéèêëîïôöûü]|(?:"
    + "|".join(FRENCH_SILENT_H)
    + r")\b)",
    re.IGNORECASE,
)
SPANISH = (("de el", "del"), ("a el", "al"))
PORTUGUESE = (
    ("em o", "no"), ("em a", "na"), ("em os", "nos"), ("em as", "nas"),
    ("de o", "do"), ("de a", "da"), ("de os", "dos"), ("de as", "das"),
    ("a o", "ao"), ("a a", "à"), ("a os", "aos"), ("a as", "às"),
    ("por o", "pelo"), ("por a", "pela"),
)  # fmt: skip
ITALIAN_PREPOSITIONS = {"di": "de", "a": "a", "da": "da", "in": "ne", "su": "su"}
# What each article becomes after the preposition's stem: "de" + "lla" is "della".
ITALIAN_JOINED = {
    "il": "l",
    "lo": "llo",
    "la": "lla",
    "i": "i",
    "gli": "gli",
    "le": "lle",
    "l'": "ll'",
}
ITALIAN_ARTICLES = tuple(ITALIAN_JOINED)


def contractions(pairs: Iterable[tuple[str, str]]) -> Callable[[str], str]:
    """One pass over the text replacing each long form (as whole words) by its short one, with
    a single pattern compiled once: the realiser contracts every wording it writes."""
    table = dict(pairs)
    longest_first = sorted(table, key=len, reverse=True)
    # A long form ends at a word's end, or at its apostrophe ("su l'erba").
    ends = [re.escape(long) + ("" if long.endswith("'") else r"(?=\W|$)") for long in longest_first]
    pattern = re.compile(r"\b(?:" + "|".join(ends) + ")")

    def contract(text: str) -> str:
        return pattern.sub(lambda match: table[match.group(0)], text)

    return contract


def _italian_pairs() -> Iterator[tuple[str, str]]:
    """ "di il" to "del", "in la" to "nella", "su l'" to "sull'": the preposition's stem and the
    article, with the article's l doubled where it begins with one."""
    for preposition, stem in ITALIAN_PREPOSITIONS.items():
        for article, joined in ITALIAN_JOINED.items():
            yield f"{preposition} {article}", stem + joined


_french_pairs = contractions(FRENCH)


def french(text: str) -> str:
    """Elision first ("de le accordéon": "de l'accordéon"), then "du" where "le" is left."""
    text = FRENCH_ELIDED.sub(lambda m: m.group(1)[:-1] + "'", text)
    return _french_pairs(text)


CONTRACT: dict[str, Callable[[str], str]] = {
    "fr": french,
    "es": contractions(SPANISH),
    "pt": contractions(PORTUGUESE),
    "it": contractions(_italian_pairs()),
}
