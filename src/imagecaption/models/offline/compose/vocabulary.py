"""The detector's COCO categories as words: ``coco_nouns.tsv`` read into typed rows.

The table is data, not code, so that wording and thresholds can be tuned without touching the
sentence rules; its header explains every column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from imagecaption.models.offline.labels import Label

_PACKAGE = __name__.rpartition(".")[0]
TABLE = "coco_nouns.tsv"
ROLES = frozenset(
    {
        "person",
        "animal",
        "ride",
        "seat",
        "table",
        "held",
        "worn",
        "vehicle",
        "food",
        "ball",
        "street",
        "kitchen",
        "bathroom",
        "bedroom",
        "living",
        "office",
        "thing",
    }
)


@dataclass(frozen=True)
class Noun:
    """How one COCO category reads in a sentence, and how sure the detector must be of it."""

    label: str
    singular: str
    plural: str
    roles: frozenset[str]
    imagenet: tuple[str, ...]
    min_score: float
    coco: bool = True
    """Whether this is one of the detector's categories, not a classifier's name standing in
    for one (``identify.py``): other languages may word a category apart from the ImageNet
    phrase it shares in English (a "kite" that flies, not the bird)."""

    def agrees_with(self, label: Label) -> bool:
        """Whether an ImageNet class names the same kind of thing, only more precisely."""
        for token in self.imagenet:
            kind, _, value = token.partition(":")
            if kind == "category" and label.category == value:
                return True
            if kind == "group" and value in (label.group, label.phrase):
                return True
        return False

    def counted(self, count: int) -> str:
        """``count`` of these as a reader would say it: "a dog", "two dogs", "several dogs"."""
        if count <= 1:
            return self.singular
        if count in NUMBERS:
            return f"{NUMBERS[count]} {self.plural}"
        if "person" in self.roles:
            return "a group of people"
        return f"several {self.plural}"


NUMBERS = {2: "two", 3: "three", 4: "four"}


@cache
def load_nouns() -> dict[str, Noun]:
    """Read the table once; a malformed row is a packaging bug, so fail loudly."""
    text = resources.files(_PACKAGE).joinpath(TABLE).read_text(encoding="utf-8")
    nouns: dict[str, Noun] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 6:
            raise RuntimeError(f"{TABLE}: malformed row {line!r}")
        label, singular, plural, roles, imagenet, min_score = fields
        role_set = frozenset(roles.split(","))
        if not role_set <= ROLES or not singular or not plural:
            raise RuntimeError(f"{TABLE}: unknown role or missing noun in row {line!r}")
        nouns[label] = Noun(
            label=label,
            singular=singular,
            plural=plural,
            roles=role_set,
            imagenet=tuple(token for token in imagenet.split(",") if token),
            min_score=float(min_score),
        )
    return nouns


def check_agreement_tokens(nouns: dict[str, Noun], labels: Sequence[Label]) -> None:
    """Refuse a table whose ImageNet references match no class (a typo would silently mean
    "never refine this category")."""
    for noun in nouns.values():
        for token in noun.imagenet:
            probe = Noun(noun.label, "", "", frozenset(), (token,), 0.0)
            if not any(probe.agrees_with(label) for label in labels):
                raise RuntimeError(f"{TABLE}: {noun.label}: {token!r} matches no ImageNet class")
