"""A plan (``plans.py``) in one language: the subject in its frame, what it does and where,
contracted, with the words read in the picture quoted as read; and a draft's forms in that
language within a word limit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from imagecaption.models.offline.compose.drafts import Draft
from imagecaption.models.offline.compose.languages.grammar import SLOT, Grammar, Part
from imagecaption.models.offline.compose.places import TIMES_OF_DAY
from imagecaption.models.offline.compose.plans import Plan, Ref
from imagecaption.models.offline.compose.things import without_article

# Where the quote goes while the rest is contracted: quoted words stay exactly as read.
QUOTE = "\x01"
# Frames around a guessed subject, whose place is said with the guess, inside the frame: a
# German relative clause ends in its verb.
GUESSES = frozenset({"hedge", "possibly"})


class Realiser:
    """Writes plans in one language."""

    def __init__(self, grammar: Grammar, labels: Mapping[str, str]) -> None:
        """``labels`` maps the detector's category names to their nouns' keys ("dining
        table" to "a table"), so that tags can be translated."""
        self.grammar = grammar
        self.words = grammar.words
        keys = {without_article(key): Ref(key) for key in self.words.nouns}
        found = {label: Ref(key, label=label) for label, key in labels.items()}
        self._tag_nouns = {**keys, **found}

    @property
    def tag(self) -> str:
        return self.words.tag

    def sentence(self, plan: Plan) -> str:
        """The plan as a lower-case sentence without its full stop."""
        grammar, words = self.grammar, self.words
        if plan.subjects:
            agreement = grammar.agreement(plan.subjects)
            subject = grammar.listed([grammar.np(ref) for ref in plan.subjects])
            place = grammar.fill(self._place(plan.place), agreement) if plan.place else None
            if plan.frame is not None:
                frame = words.frames[plan.frame]
                if plan.frame in GUESSES and place is not None:
                    # "ein Bild, das einen Brunnen bei Nacht zeigen könnte"
                    frame, place = SLOT.sub(lambda slot: f"{slot.group(0)} {place}", frame), None
                subject = grammar.fill(frame, agreement, plan.subjects)
            parts = []
            if plan.doing is not None:
                parts.append(self._part(words.doings[plan.doing], plan))
            if plan.relation is not None:
                template = words.relations.get(plan.relation) or words.places[plan.relation]
                things = tuple(ref for ref in (plan.other, plan.also) if ref is not None)
                parts.append(self._part(template, plan, things))
            text = grammar.clause(subject, agreement, parts, place)
        else:
            text = ""
        if plan.text is not None:
            text = words.frames[plan.text].replace("{s}", text).replace("{q}", QUOTE)
        text = grammar.contract(text)
        opening, closing = words.quotes
        return text.replace(QUOTE, f"{opening}{plan.quote}{closing}")

    def _part(self, template: str, plan: Plan, things: tuple[Ref, ...] = ()) -> Part:
        agreement = self.grammar.agreement(plan.subjects)
        return Part(self.grammar.fill(template, agreement, things), "[" in template)

    def _place(self, key: str) -> str:
        """A place's words; one said at night or at sunset is the place's and the time's ("auf
        dem Rasen bei Nacht")."""
        places = self.words.places
        if key not in places:
            for time in TIMES_OF_DAY:
                if key.endswith(f" {time}"):
                    return f"{places[key.removesuffix(f' {time}')]} {places[time]}"
        return places[key]

    def render(self, draft: Draft, max_words: int | None) -> str | None:
        """The longest form within ``max_words`` words of this language, else the last form's
        head noun cut to the limit; capitalised, with a full stop. None where the language's
        words lack something the draft says (a rule newer than the word table: the tests'
        coverage check names it), so that the caption says less rather than fail."""
        written = self._written(draft.plans)
        if max_words is None:
            first = next(written, None)
            if first is None:
                return None
            text = first[1]
        else:
            texts = list(written)
            if not texts:
                return None
            limit = max(1, max_words)
            text = next((form for _, form in texts if len(form.split()) <= limit), "")
            if not text:
                text = self._cut(*texts[-1], limit)
        return text[0].upper() + text[1:] + "."

    def _written(self, plans: Sequence[Plan]) -> Iterator[tuple[Plan, str]]:
        """Each plan the language's words can write, with its wording, longest first."""
        for plan in plans:
            try:
                yield plan, self.sentence(plan)
            except KeyError:
                continue

    def _cut(self, plan: Plan, text: str, limit: int) -> str:
        if not plan.subjects:
            return " ".join(text.split()[:limit])
        words = self.grammar.bare(plan.subjects[0]).split()
        return " ".join(words[:limit] if self.grammar.head_first else words[-limit:])

    def tag_name(self, name: str) -> str:
        """A tag's name ("dog", "tabby cat", "grass", "walking") in this language."""
        if name in self.words.tags:
            return self.words.tags[name]
        ref = self._tag_nouns.get(name)
        return self.grammar.bare(ref) if ref is not None else name
