"""The words read in a picture, put into its caption the way alt text carries them.

Alt text must say what an image says: `A street sign that reads "Main St".`, `A screenshot of a
page titled "Sign in".`, `A page of printed text beginning "In the beginning...".` Quotes are
the reader's words only, trimmed to a few words, with "..." where something was cut or a word
was too unsure to quote (``text.py`` drops those); nothing is completed or corrected. The
wordings without the quote stay behind as shorter forms, so a word limit drops the quote first.
"""

from __future__ import annotations

from collections.abc import Sequence

from imagecaption.models.base import TextLine
from imagecaption.models.offline.compose.drafts import Draft
from imagecaption.models.offline.text import GAP

Box = tuple[float, float, float, float]

# A quote holds at most this many words and characters; a reader skims longer ones.
QUOTE_WORDS = 8
QUOTE_CHARACTERS = 60
# Lines at least this tall next to the tallest are read with it: a sign's second line, a
# heading's continuation; smaller print under a title is left out.
SAME_SIZE = 0.75
# This many lines make a page of text, when nothing else names the picture, or when the
# classifier guessed a screenshot but the lines run on like prose (this many words, median).
PAGE_LINES = 4
PROSE_WORDS = 4
# Words alone in a picture, in at most this many lines of print at least this tall and spread
# over this much of the picture's width (fractions of its height and width), are a sign's.
SIGN_LINES = 3
SIGN_PRINT = 0.12
SIGN_WIDTH = 0.5
# Subjects that hold words, said with "that reads", and screens, said with "showing".
READABLE = (
    "a street sign", "a sign", "a scoreboard", "a menu", "a book cover", "a comic book",
    "an envelope", "a packet", "a bottle", "a bottle cap", "a label", "a poster", "a book",
    "a soda bottle", "a beer bottle", "a water bottle", "a pill bottle", "a crossword puzzle",
    "a stop sign",
)  # fmt: skip
SCREENS = (
    "a computer monitor", "a screen", "a television", "a laptop", "a cell phone", "a tv",
)  # fmt: skip
# The classifier's guess that the picture is a screenshot, sure or hedged ("an image that may
# show a screenshot of a website"): with text read in it, a screenshot it is.
SCREENSHOT = "a screenshot of a website"
# Without details, only the lines a caption can quote are recognised (the recogniser's time grows
# with every line): the first of the largest print (one more than a sign has, so that too many of
# them still tell a sign from a screen), and the first lines in reading order (a page's beginning,
# and enough of them to tell a page of prose from a screen's menus).
QUOTED_PROMINENT = SIGN_LINES + 1
QUOTED_FIRST = PAGE_LINES + 2
# Captions that name no subject, where the words become the subject: hedges and admissions of
# defeat (by how they begin), and the kinds of picture that a picture of text is taken for.
UNSURE = ("an image", "an unclear image", "possibly ")
TEXT_LOOKALIKES = frozenset(
    {"a page of text", "a black and white photo", "a close-up of a textured surface"}
)


def with_text(drafts: Sequence[Draft], lines: Sequence[TextLine]) -> list[Draft]:
    """Every draft with the words read put into it; unchanged when nothing was read."""
    if not lines:
        return list(drafts)
    reworded = []
    for draft in drafts:
        wording = read_into(draft.forms[0], lines)
        reworded.append(draft if wording is None else draft.reworded(wording))
    return reworded


def read_into(wording: str, lines: Sequence[TextLine]) -> str | None:
    """``wording`` (a lower-case caption without its full stop) with the words of ``lines``
    quoted in it, or None when there is nothing to quote."""
    ordered = sorted(lines, key=lambda line: _place(line.box))
    if not ordered:
        return None
    prominent = quote(_prominent(ordered))
    title = quote(_prominent(ordered)[:1])
    screenshot = SCREENSHOT in wording
    named = not wording.startswith(UNSURE) and wording not in TEXT_LOOKALIKES
    if screenshot and named:
        return f'a screenshot of a page titled "{title}"'
    if _names(wording, SCREENS):
        return f'{wording} showing "{prominent}"'
    if _names(wording, READABLE):
        return f'{wording} that reads "{prominent}"'
    if named and not screenshot:
        return f'{wording} with the words "{prominent}"'
    if len(ordered) >= PAGE_LINES and (_prose(ordered) or not screenshot):
        return f'a page of printed text beginning "{quote(ordered, ellipsis=True)}"'
    if screenshot:
        return f'a screenshot of a page titled "{title}"'
    if _fills_like_a_sign(ordered):
        return f'a sign that reads "{prominent}"'
    return f'the words "{prominent}"'


def lines_to_read(boxes: Sequence[Box]) -> list[int]:
    """Which of the lines found (their boxes, as fractions of the picture) ``read_into`` can
    quote, so that only those are recognised: the first few of the largest print, and the first
    lines in reading order."""
    order = sorted(range(len(boxes)), key=lambda index: _place(boxes[index]))
    if not order:
        return []
    tallest = max(_box_height(box) for box in boxes)
    prominent = [i for i in order if _box_height(boxes[i]) >= SAME_SIZE * tallest]
    return sorted(set(prominent[:QUOTED_PROMINENT]) | set(order[:QUOTED_FIRST]))


def caption_with_text(caption: str, lines: Sequence[TextLine], max_words: int | None) -> str:
    """A finished caption (a full model's) with the words read put into it, as long as it
    stays within ``max_words``."""
    body = caption.strip().rstrip(".").rstrip()
    if not body:
        return caption
    wording = read_into(body[0].lower() + body[1:], lines)
    if wording is None or (max_words is not None and len(wording.split()) > max_words):
        return caption
    return wording[0].upper() + wording[1:] + ("." if caption.rstrip().endswith(".") else "")


def quote(lines: Sequence[TextLine], *, ellipsis: bool = False) -> str:
    """The lines' words run together, cut to a skimmable length; "..." marks a cut, and
    ``ellipsis`` says that more text follows even when nothing of these lines was cut."""
    words = " ".join(line.text for line in lines).replace('"', "'").split()
    kept: list[str] = []
    for word in words:
        if len(kept) == QUOTE_WORDS or len(" ".join([*kept, word])) > QUOTE_CHARACTERS:
            ellipsis = True
            break
        kept.append(word)
    text = " ".join(kept) or " ".join(words[:1])[:QUOTE_CHARACTERS]
    if ellipsis and not text.endswith(GAP):
        text = text.rstrip(".,;:") + GAP
    return text


def _prominent(ordered: Sequence[TextLine]) -> list[TextLine]:
    """The largest print, and lines of about its size, in reading order: a sign's words or a
    page's title rather than its small print."""
    tallest = max(_height(line) for line in ordered)
    return [line for line in ordered if _height(line) >= SAME_SIZE * tallest]


def _fills_like_a_sign(ordered: Sequence[TextLine]) -> bool:
    """A few lines of large print across most of the picture: what a sign looks like, when
    nothing else in the picture was named."""
    prominent = _prominent(ordered)
    wide = max(line.box[2] for line in prominent) - min(line.box[0] for line in prominent)
    return (
        len(prominent) <= SIGN_LINES
        and max(_height(line) for line in prominent) >= SIGN_PRINT
        and wide >= SIGN_WIDTH
    )


def _names(wording: str, phrases: Sequence[str]) -> bool:
    """Whether ``wording`` begins with one of ``phrases`` as whole words ("a book cover", not
    "a bookcase", begins with "a book")."""
    return any(wording == phrase or wording.startswith(phrase + " ") for phrase in phrases)


def _prose(ordered: Sequence[TextLine]) -> bool:
    """Lines of running text, as on a page; a screen's menus and buttons are a word or two."""
    words = sorted(len(line.text.split()) for line in ordered)
    return words[len(words) // 2] >= PROSE_WORDS


def _height(line: TextLine) -> float:
    return _box_height(line.box)


def _box_height(box: Box) -> float:
    return box[3] - box[1]


def _place(box: Box) -> tuple[float, float]:
    """Where a line comes in reading order: rows top to bottom (tops within 1% of the picture's
    height make one row), each left to right."""
    return round(box[1], 2), box[0]
