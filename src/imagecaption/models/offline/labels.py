"""The ImageNet class table: how each of the classifier's 1000 outputs reads in a sentence.

WordNet lemmas such as "tiger cat" or "maillot" mean little to a reader and some are ambiguous
("crane"), so captions never show them; they use the hand-written phrases in
``imagenet_labels.tsv`` instead. That file's header says where the class order comes from and what
each column is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

_PACKAGE = __name__.rpartition(".")[0]
TABLE = "imagenet_labels.tsv"
NUM_CLASSES = 1000

CATEGORIES = frozenset(
    {
        # living things
        "dog",
        "cat",
        "bird",
        "fish",
        "reptile",
        "amphibian",
        "insect",
        "invertebrate",
        "mammal",
        "person",
        "plant",
        "fungus",
        # things people wear, play, eat or use
        "clothing",
        "instrument",
        "food",
        "drink",
        "sports",
        "device",
        "tool",
        "object",
        "document",
        "furniture",
        # things people ride, or stand in front of
        "ride",
        "vehicle",
        "aircraft",
        "boat",
        "building",
        # where a photo was taken
        "place",
        "scene",
    }
)


@dataclass(frozen=True)
class Label:
    """One class, as the sentence writer needs it; empty strings mean "none"."""

    wnid: str
    category: str
    group: str
    phrase: str
    context: str


@cache
def load_labels() -> tuple[Label, ...]:
    """Read the table once; a malformed table is a packaging bug, so fail loudly."""
    text = resources.files(_PACKAGE).joinpath(TABLE).read_text(encoding="utf-8")
    labels: list[Label] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 6 or fields[0] != str(len(labels)):
            raise RuntimeError(f"{TABLE}: malformed row {line!r}")
        _, wnid, category, group, phrase, context = fields
        if category not in CATEGORIES or not phrase:
            raise RuntimeError(f"{TABLE}: bad category or empty phrase in row {line!r}")
        labels.append(Label(wnid, category, group, phrase, context))
    if len(labels) != NUM_CLASSES:
        raise RuntimeError(f"{TABLE}: expected {NUM_CLASSES} rows, found {len(labels)}")
    return tuple(labels)
