"""A language's words: ``<tag>.tsv`` beside this module, read into typed tables.

The format is in ``docs/languages.md``. Every row starts with its kind: ``noun`` (every thing a
caption can name, keyed by its English phrase for one), ``place``, ``relation``, ``doing``,
``frame``, ``colour``, ``count``, ``tag``, ``word`` (single words the grammar needs, such as
"and") and ``quotes``. A malformed row is a packaging bug, so loading fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from imagecaption.models.offline.compose.plans import Ref

GENDERS = frozenset({"m", "f", "n", "pl"})
SECTIONS = frozenset(
    {"noun", "place", "relation", "doing", "frame", "colour", "count", "tag", "word", "quotes"}
)


@dataclass(frozen=True)
class Entry:
    """One noun: its gender ("pl" for a plural-only noun), whether it takes an article, its
    forms for one and for several, and the singular's form after a preposition where that
    differs (German weak nouns: "Elefant", "einem Elefanten")."""

    gender: str
    singular: str
    plural: str = ""
    article: bool = True
    oblique: str = ""


@dataclass(frozen=True)
class Words:
    """Every table of one language, each keyed by its English key."""

    tag: str
    nouns: dict[str, Entry] = field(default_factory=dict)
    places: dict[str, str] = field(default_factory=dict)
    relations: dict[str, str] = field(default_factory=dict)
    doings: dict[str, str] = field(default_factory=dict)
    frames: dict[str, str] = field(default_factory=dict)
    colours: dict[str, str] = field(default_factory=dict)
    counts: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    words: dict[str, str] = field(default_factory=dict)
    quotes: tuple[str, str] = ('"', '"')

    def texts(self) -> dict[str, dict[str, str]]:
        """The tables of words by the kind of row that fills them (all but nouns)."""
        return {
            "place": self.places,
            "relation": self.relations,
            "doing": self.doings,
            "frame": self.frames,
            "colour": self.colours,
            "count": self.counts,
            "tag": self.tags,
            "word": self.words,
        }

    def noun(self, ref: Ref) -> Entry:
        """The entry for ``ref``: its detector category's own (``coco:<label>``) where the
        table has one, else its English phrase's."""
        if ref.label is not None and (own := self.nouns.get(f"coco:{ref.label}")) is not None:
            return own
        return self.nouns[ref.key]


def available() -> tuple[str, ...]:
    """The tags of the languages whose word tables ship here, in name order."""
    files = resources.files(__name__.rpartition(".")[0]).iterdir()
    return tuple(sorted(f.name.removesuffix(".tsv") for f in files if f.name.endswith(".tsv")))


@cache
def load_words(tag: str) -> Words:
    name = f"{tag}.tsv"
    text = resources.files(__name__.rpartition(".")[0]).joinpath(name).read_text(encoding="utf-8")
    words = Words(tag)
    tables = words.texts()
    quotes = words.quotes
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        kind, *fields = line.rstrip("\n").split("\t")
        if kind not in SECTIONS or not fields or not all(fields[:2]):
            raise RuntimeError(f"{name}:{number}: malformed row {line!r}")
        key = fields[0]
        if kind == "noun":
            words.nouns[key] = _entry(name, number, fields[1:])
        elif kind == "quotes":
            quotes = (fields[0], fields[1])
        else:
            if len(fields) != 2:
                raise RuntimeError(f"{name}:{number}: expected key and words in {line!r}")
            tables[kind][key] = fields[1]
    return Words(**{**words.__dict__, "quotes": quotes})


def _entry(name: str, number: int, fields: list[str]) -> Entry:
    """``gender[.]  singular  [plural]  [oblique]``: a "." after the gender says the noun
    takes no article ("Brokkoli", "du brocoli")."""
    if not 2 <= len(fields) <= 4 or fields[0].rstrip(".") not in GENDERS:
        raise RuntimeError(f"{name}:{number}: a noun needs gender and singular: {fields!r}")
    gender, singular, *rest = fields
    plural = rest[0] if rest else ""
    oblique = rest[1] if len(rest) > 1 else ""
    return Entry(gender.rstrip("."), singular, plural, not gender.endswith("."), oblique)
