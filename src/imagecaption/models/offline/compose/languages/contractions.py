"""Each Romance language's contractions of a preposition and the article after it, and French
elision, made on the composed text (never on quoted words, which are put in afterwards).

The word tables may write "à le bord de le eau" or "au bord de l'eau": both read the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable

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


def _pairs(pairs: tuple[tuple[str, str], ...]) -> Callable[[str], str]:
    patterns = [(re.compile(rf"\b{long}\b"), short) for long, short in pairs]

    def contract(text: str) -> str:
        for pattern, short in patterns:
            text = pattern.sub(short, text)
        return text

    return contract


def french(text: str) -> str:
    """Elision first ("de le accordéon": "de l'accordéon"), then "du" where "le" is left."""
    text = FRENCH_ELIDED.sub(lambda m: m.group(1)[:-1] + "'", text)
    return _pairs(FRENCH)(text)


def italian(text: str) -> str:
    """ "di il" to "del", "in la" to "nella", "su l'" to "sull'": the preposition's stem and the
    article, with the article's l doubled where it begins with one."""
    for preposition, stem in ITALIAN_PREPOSITIONS.items():
        for article in ITALIAN_ARTICLES:
            pattern = rf"\b{preposition} {re.escape(article)}" + ("" if article == "l'" else r"\b")
            text = re.sub(pattern, stem + ITALIAN_JOINED[article], text)
    return text


CONTRACT: dict[str, Callable[[str], str]] = {
    "fr": french,
    "es": _pairs(SPANISH),
    "pt": _pairs(PORTUGUESE),
    "it": italian,
}
