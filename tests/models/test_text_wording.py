"""How words read in a picture go into its caption, on made-up reads: quoted, trimmed, never
completed, and dropped first when a word limit says so."""

from __future__ import annotations

import numpy as np
import pytest

from imagecaption.models.base import CaptionOptions, TextLine
from imagecaption.models.offline.compose.drafts import Draft
from imagecaption.models.offline.compose.sentence import Findings, SentenceWriter
from imagecaption.models.offline.compose.text import (
    QUOTE_WORDS,
    QUOTED_FIRST,
    QUOTED_PROMINENT,
    caption_with_text,
    lines_to_read,
    quote,
    read_into,
    with_text,
)
from imagecaption.models.offline.compose.vocabulary import load_nouns
from imagecaption.models.offline.labels import load_labels

STREET_SIGN, WEBSITE, TABBY = 919, 916, 281


def line(text: str, top: float = 0.4, height: float = 0.1, left: float = 0.2) -> TextLine:
    return TextLine(text, 0.99, (left, top, 0.8, top + height))


def scene(index: int, probability: float) -> np.ndarray:
    result = np.full(1000, (1.0 - probability) / 999)
    result[index] = probability
    return result


PAGE = [line(f"line number {n} of the page", top=0.1 + n * 0.05, height=0.03) for n in range(6)]
MENU = [line(word, top=0.1 + n * 0.05, height=0.03) for n, word in enumerate(["Home", "News"])]


@pytest.mark.parametrize(
    ("wording", "lines", "expected"),
    [
        ("a street sign", [line("Main St")], 'a street sign that reads "Main St"'),
        ("a bottle cap", [line("BAVIK")], 'a bottle cap that reads "BAVIK"'),
        ("a laptop", [line("Sign in")], 'a laptop showing "Sign in"'),
        ("a bookcase", [line("Poetry")], 'a bookcase with the words "Poetry"'),
        ("a tabby cat", [line("Grand Opening")], 'a tabby cat with the words "Grand Opening"'),
        ("an image that may show an envelope", [line("EXIT")], 'the words "EXIT"'),
        ("a black and white photo", [line("EXIT")], 'the words "EXIT"'),
        # large print across the picture with nothing else named: the words are a sign's
        (
            "an image that may show an envelope",
            [line("EXIT", height=0.3)],
            'a sign that reads "EXIT"',
        ),
        ("an unclear image", [line("NO", height=0.3, left=0.6)], 'the words "NO"'),  # narrow
        (
            "an image with no clearly recognizable subject",
            PAGE,
            'a page of printed text beginning "line number 0 of the page line number..."',
        ),
        (
            "a screenshot of a website",
            [line("Sign in", top=0.05, height=0.1), *PAGE],
            'a screenshot of a page titled "Sign in"',
        ),
        (
            "an image that may show a screenshot of a website",
            [line("Sign in", top=0.05, height=0.1), *MENU, *MENU, *MENU],
            'a screenshot of a page titled "Sign in"',
        ),
        (  # running text is a page, whatever the classifier took it for
            "an image that may show a screenshot of a website",
            PAGE,
            'a page of printed text beginning "line number 0 of the page line number..."',
        ),
        (
            "a black and white photo of a street sign",
            [line("Main St")],
            'a black and white photo of a street sign with the words "Main St"',
        ),
    ],
)
def test_the_wording_fits_what_holds_the_words(
    wording: str, lines: list[TextLine], expected: str
) -> None:
    assert read_into(wording, lines) == expected


def test_nothing_read_changes_nothing() -> None:
    assert read_into("a street sign", []) is None
    drafts = [Draft(("a street sign",), 0.9)]
    assert with_text(drafts, []) == drafts


def test_a_sign_is_read_by_its_largest_print_in_reading_order() -> None:
    lines = [
        line("small print under it", top=0.7, height=0.03),
        line("24 HOURS", top=0.45, height=0.1),
        line("OPEN", top=0.3, height=0.12),
    ]
    assert read_into("a street sign", lines) == 'a street sign that reads "OPEN 24 HOURS"'


def test_long_text_is_cut_with_an_ellipsis_never_completed() -> None:
    words = [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
    ]
    quoted = quote([line(" ".join(words))])
    assert quoted == " ".join(words[:QUOTE_WORDS]) + "..."
    long_word = "x" * 90
    assert quote([line(long_word)]) == long_word[:60] + "..."


def test_double_quotes_inside_the_words_do_not_break_the_quote() -> None:
    assert quote([line('Say "cheese"')]) == "Say 'cheese'"


def test_the_writer_quotes_the_words_and_a_word_limit_drops_them_first() -> None:
    writer = SentenceWriter(load_labels(), load_nouns())
    findings = Findings((), False, scene(STREET_SIGN, 0.9), text=(line("Main St"),))
    assert writer.write(findings, CaptionOptions()).text == 'A street sign that reads "Main St".'
    assert writer.write(findings, CaptionOptions(max_length=4)).text == "A street sign."
    plain = Findings((), False, scene(TABBY, 0.9))
    assert writer.write(plain, CaptionOptions()).text == "A tabby cat."


def test_alternatives_carry_the_words_too() -> None:
    writer = SentenceWriter(load_labels(), load_nouns())
    findings = Findings((), False, scene(WEBSITE, 0.6), text=(line("Sign in"),))
    caption = writer.write(findings, CaptionOptions(num_captions=3))
    assert caption.text == 'A screenshot of a page titled "Sign in".'
    assert all('"Sign in"' in candidate.text for candidate in caption.candidates)


def test_a_full_models_caption_gets_the_words_within_its_word_limit() -> None:
    read = [line("Joe's Pizza")]
    text = caption_with_text("A man standing in front of a store", read, None)
    assert text == 'A man standing in front of a store with the words "Joe\'s Pizza"'
    assert caption_with_text("A sign on a wall.", read, None).endswith('Pizza".')
    assert caption_with_text("A man standing in front of a store", read, 8) == (
        "A man standing in front of a store"
    )
    assert caption_with_text("A cat", [], None) == "A cat"


def test_only_the_lines_a_caption_can_quote_are_read() -> None:
    small = [(0.1, 0.2 + n * 0.05, 0.9, 0.23 + n * 0.05) for n in range(10)]
    heading = (0.1, 0.05, 0.9, 0.15)
    # A page: its heading (found last, but first in reading order) and its first lines.
    assert lines_to_read([*small, heading]) == [*range(QUOTED_FIRST - 1), 10]
    # Large print below small print: the first few of the large lines, and the first lines.
    large = [(0.1, 0.72 + n * 0.07, 0.9, 0.78 + n * 0.07) for n in range(6)]
    chosen = lines_to_read([*large, *small])
    assert chosen == [*range(QUOTED_PROMINENT), *range(6, 6 + QUOTED_FIRST)]
    assert lines_to_read([]) == []


def test_the_lines_chosen_give_the_caption_that_every_line_gives() -> None:
    lines = [
        line(f"line number {n} of a long page", top=0.05 + n * 0.05, height=0.03) for n in range(15)
    ]
    lines.append(line("A HEADING IN LARGE PRINT", top=0.85, height=0.1))
    chosen = [lines[index] for index in lines_to_read([found.box for found in lines])]
    for wording in ("an image", "a street sign", "a screenshot of a website", "a tabby cat"):
        assert read_into(wording, chosen) == read_into(wording, lines)
