"""The reading benchmark's own parts: the character error rate and Tesseract's lines."""

from __future__ import annotations

import pytest
from benchmarks.text.cer import cer, in_reading_order
from benchmarks.text.peers import tesseract_lines
from benchmarks.text.pictures import load_pictures


def test_the_character_error_rate_counts_edits_per_character_of_the_truth() -> None:
    assert cer(["BAVIK"], ["BAVIK"]) == 0.0
    assert cer(["BAVIK"], ["BAV1K"]) == pytest.approx(1 / 5)
    assert cer(["Fresh Bread", "Daily"], ["Fresh  Bread Daily"]) == 0.0  # spacing is not read
    assert cer(["Fresh Bread", "Daily"], ["Fresh Bread"]) == pytest.approx(6 / 17)  # a lost line
    assert cer(["OPEN"], []) == 1.0
    assert cer(["OPEN"], ["OPEN 24 HOURS TODAY"]) > 1.0  # invented text can cost more than all


def test_lines_are_put_in_reading_order_rows_first() -> None:
    lines = [
        ("world", (0.5, 0.101, 0.9, 0.2)),
        ("second row", (0.0, 0.4, 0.5, 0.5)),
        ("hello", (0.1, 0.1, 0.4, 0.2)),
    ]
    assert in_reading_order(lines) == ["hello", "world", "second row"]


def test_tesseracts_words_are_joined_into_its_lines() -> None:
    header = (
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\t"
        "left\ttop\twidth\theight\tconf\ttext"
    )
    rows = [
        "4\t1\t1\t1\t1\t0\t10\t10\t100\t20\t-1\t",
        "5\t1\t1\t1\t1\t1\t10\t10\t40\t20\t96\tOPEN",
        "5\t1\t1\t1\t1\t2\t60\t12\t50\t18\t95\t24",
        "5\t1\t1\t1\t2\t1\t10\t50\t30\t10\t90\tHOURS",
        "5\t1\t1\t1\t2\t2\t50\t50\t30\t10\t90\t ",
    ]
    lines = tesseract_lines("\n".join([header, *rows]), 200, 100)
    assert lines == [("OPEN 24", (0.05, 0.1, 0.55, 0.3)), ("HOURS", (0.05, 0.5, 0.2, 0.6))]


def test_every_reference_transcription_has_its_picture() -> None:
    pictures = load_pictures({"fb_bottle_cap", "open_24_hours"})
    assert [(picture.id, picture.truth) for picture in pictures] == [
        ("fb_bottle_cap", ("BAVIK",)),
        ("open_24_hours", ("OPEN 24 HOURS",)),
    ]
