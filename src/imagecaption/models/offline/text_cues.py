"""Whether a picture may carry text, from what the other stages already know: nearly free.

The read stage's own check (the OCR's detector on a small copy) costs milliseconds, as much as a
tenth of the whole offline caption, so photos without text should not pay for it. The
classifier's likelihood of things that carry words (a street sign, a menu, a screen, a packet),
the detector's screens and books, and the pixel statistics of pages and of plain backgrounds
with marks on them decide whether it runs. A miss costs the words of a sign in an ordinary
photo; a false alarm costs only the check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from imagecaption.models.offline.compose.kind import PictureStats, laid_out_like_a_page
from imagecaption.models.offline.compose.things import Thing
from imagecaption.models.offline.labels import Label

# ImageNet classes (by their phrase in imagenet_labels.tsv) of things that usually show words.
TEXT_BEARING = frozenset(
    {
        # documents and screens
        "an envelope", "a screenshot of a website", "a comic book", "a crossword puzzle",
        "a book cover", "a menu", "a ring binder", "a computer monitor", "a screen",
        "a television", "a laptop", "a desktop computer", "a cell phone", "a handheld computer",
        # signs and displays
        "a street sign", "a scoreboard", "a digital clock", "a cash machine",
        "a vending machine", "a slot machine", "a parking meter", "a pay phone",
        # labels and packaging
        "a packet", "a bottle cap", "a bottle of lotion", "a bottle of sunscreen",
        "a pill bottle", "a can of hair spray", "a bottle of perfume", "a beer bottle",
        "a soda bottle", "a bottle of wine", "a water bottle",
        # shop fronts
        "a bakery", "a barbershop", "a bookshop", "a butcher shop", "a candy store",
        "a grocery store", "a shoe shop", "a tobacco shop", "a toy shop", "a cinema",
    }
)  # fmt: skip
# COCO things, from the object detector, that usually show words.
TEXT_BEARING_OBJECTS = frozenset({"tv", "laptop", "cell phone", "book", "stop sign"})
# The classifier's probability, summed over those classes, from which a picture is checked: a
# sign or a screen in a photo rarely gets more than a third of it.
CLASS_LIKELIHOOD = 0.15
# Most of the picture one flat colour: a graphic, a slide, a sign or a label close up, where
# the classifier has little to go on.
PLAIN_BACKGROUND = 0.9


class TextCues:
    """Reads the cues for one label table; cheap enough to run on every picture."""

    def __init__(self, labels: Sequence[Label]) -> None:
        self._classes = np.array(
            [index for index, label in enumerate(labels) if label.phrase in TEXT_BEARING]
        )

    def suggest_text(
        self,
        scene: np.ndarray,
        crops: Iterable[np.ndarray],
        things: Sequence[Thing],
        stats: PictureStats | None,
    ) -> bool:
        """Whether the read stage should look: any one cue is enough."""
        views = [scene, *crops]
        if any(float(view[self._classes].sum()) >= CLASS_LIKELIHOOD for view in views):
            return True
        if any(thing.noun.label in TEXT_BEARING_OBJECTS for thing in things):
            return True
        return stats is not None and (
            laid_out_like_a_page(stats) or stats.background >= PLAIN_BACKGROUND
        )
