"""Captions in other languages than English: each language's words in ``<tag>.tsv`` and its
grammar in a module (``german.py``, ``romance.py``), which write the rules' plans.

English is written by the rules themselves; ``realiser(tag)`` gives the writer of every other
language whose word table ships here (``languages()``).
"""

from __future__ import annotations

from functools import cache

from imagecaption.models.offline.compose.languages.german import German
from imagecaption.models.offline.compose.languages.grammar import Grammar
from imagecaption.models.offline.compose.languages.realiser import Realiser
from imagecaption.models.offline.compose.languages.romance import ARTICLES, Romance
from imagecaption.models.offline.compose.languages.words import available, load_words
from imagecaption.models.offline.compose.vocabulary import load_nouns

GRAMMARS: dict[str, type[Grammar]] = {"de": German} | {tag: Romance for tag in ARTICLES}


@cache
def languages() -> tuple[str, ...]:
    """English and every language with a word table and a grammar here (read once: the API
    asks for them on every request)."""
    return ("en", *(tag for tag in available() if tag in GRAMMARS))


@cache
def realiser(tag: str) -> Realiser:
    words = load_words(tag)
    labels = {noun.label: noun.singular for noun in load_nouns().values()}
    return Realiser(GRAMMARS[tag](words), labels)
