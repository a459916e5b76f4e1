"""German: articles and adjective endings by gender and case, weak nouns, verb-final clauses.

Adjectives in the word table end in "~" ("getigert~ Katze", "mehrer~"), which takes the
ending the article, gender and case call for: "eine getigerte Katze", "auf einer getigerten
Katze", "mehrere Hunde", "mit mehreren Hunden". A verb ("[sitzt|sitzen]") puts the rest in a
relative clause with the verb last: "eine Person, die auf einer Bank sitzt".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from imagecaption.models.offline.compose.languages.contractions import contractions
from imagecaption.models.offline.compose.languages.grammar import Agreement, Grammar, Part
from imagecaption.models.offline.compose.plans import Ref

ARTICLE = {
    "nom": {"m": "ein", "f": "eine", "n": "ein"},
    "acc": {"m": "einen", "f": "eine", "n": "ein"},
    "dat": {"m": "einem", "f": "einer", "n": "einem"},
}
# Adjective endings after "ein" (mixed declension) and with no article (strong).
AFTER_ARTICLE = {
    "nom": {"m": "er", "f": "e", "n": "es"},
    "acc": {"m": "en", "f": "e", "n": "es"},
    "dat": {"m": "en", "f": "en", "n": "en"},
}
NO_ARTICLE = {
    "nom": {"m": "er", "f": "e", "n": "es"},
    "acc": {"m": "en", "f": "e", "n": "es"},
    "dat": {"m": "em", "f": "er", "n": "em"},
}
PLURAL = {"nom": "e", "acc": "e", "dat": "en"}
RELATIVE = {"m": "der", "f": "die", "n": "das"}
CONTRACTIONS = (
    ("in dem", "im"),
    ("an dem", "am"),
    ("in das", "ins"),
    ("an das", "ans"),
    ("zu dem", "zum"),
    ("zu der", "zur"),
    ("bei dem", "beim"),
    ("von dem", "vom"),
)
CONTRACT = contractions(CONTRACTIONS)
ADJECTIVE = re.compile(r"~")


class German(Grammar):
    head_first = False

    def np(self, ref: Ref, case: str = "nom") -> str:
        entry = self.words.noun(ref)
        if ref.count > 1 or entry.gender == "pl":
            return self._plural(ref, case)
        gender = entry.gender
        colour = f"{self.words.colours[ref.colour]} " if ref.colour else ""
        noun = entry.oblique if case != "nom" and entry.oblique else entry.singular
        phrase = colour + noun
        if not entry.article:
            return ADJECTIVE.sub(NO_ARTICLE[case][gender], phrase)
        return f"{ARTICLE[case][gender]} {ADJECTIVE.sub(AFTER_ARTICLE[case][gender], phrase)}"

    def _plural(self, ref: Ref, case: str) -> str:
        entry = self.words.noun(ref)
        plural, _, dative = (entry.plural or entry.singular).partition("/")
        if case == "dat":
            plural = dative or _dative_plural(plural)
        counts = self.words.counts
        number = counts.get(str(ref.count), counts["several"]) if ref.count > 1 else ""
        phrase = f"{number} {plural}".strip()
        return ADJECTIVE.sub(PLURAL[case], phrase)

    def bare(self, ref: Ref) -> str:
        entry = self.words.noun(ref)
        if ref.count > 1 or entry.gender == "pl":
            return ADJECTIVE.sub(PLURAL["nom"], (entry.plural or entry.singular).split("/")[0])
        return ADJECTIVE.sub(NO_ARTICLE["nom"][entry.gender], entry.singular)

    def clause(
        self, subject: str, agreement: Agreement, parts: Sequence[Part], place: str | None
    ) -> str:
        """With a verb, a relative clause with the place first and the verb last ("ein Hund,
        der auf dem Rasen mit einem Ball spielt"); without, the phrases in a row ("eine Katze
        auf einem Sofa in einem Wohnzimmer")."""
        where = [place] if place else []
        if not any(part.verbal for part in parts):
            return " ".join([subject, *(part.text for part in parts), *where])
        pronoun = "die" if agreement.plural else RELATIVE[agreement.gender]
        ordered = sorted(parts, key=lambda part: part.verbal)  # the verb last
        return f"{subject}, {pronoun} {' '.join([*where, *(part.text for part in ordered)])}"

    def contract(self, text: str) -> str:
        return CONTRACT(text)


def _dative_plural(plural: str) -> str:
    """Dative plural nouns end in -n, unless they already end in -n or -s ("Hunden", "Autos")."""
    return plural if plural.endswith(("n", "s")) else plural + "n"
