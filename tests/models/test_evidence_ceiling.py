"""The evidence ceiling benchmark reads the pipeline's own evidence and bounds what it reports.

Its figures say how far any sentence rule could go, so they must come from the very findings
the caption was written from, and each level must hold the one before it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from benchmarks.bench_evidence_ceiling import measure
from benchmarks.bench_quality import caption_all
from benchmarks.quality.added_words import Added, added_words, fit_thresholds, said
from benchmarks.quality.evidence_words import Word
from benchmarks.quality.photos import INSTALLED, Case, load_cases


def _case(expected: tuple[tuple[str, ...], ...]) -> Case:
    return replace(load_cases()[0], expected=expected)


def test_added_words_skip_what_the_caption_says_and_mark_the_expected_ones() -> None:
    case = _case((("dog", "puppy"), ("grass", "lawn")))
    words = [
        Word("a dog", "things", 0.9),
        Word("dogs", "things", 0.9),
        Word("grass", "pixels", 0.5),
        Word("snow", "pixels", 0.4),
    ]
    added = added_words("A dog on a path.", words, case)
    assert added == (
        Added(Word("dogs", "things", 0.9), expected=True),
        Added(Word("grass", "pixels", 0.5), expected=True),
        Added(Word("snow", "pixels", 0.4), expected=False),
    )


def test_each_word_is_counted_once_at_its_surest_evidence() -> None:
    case = _case((("sky",),))
    words = [Word("sky", "places", 0.6), Word("the sky", "pixels", 0.8), Word("sky", "x", 0.1)]
    assert added_words("A castle.", words, case) == (
        Added(Word("sky", "pixels", 0.8), expected=True),
    )


def test_thresholds_are_the_lowest_at_which_half_the_added_words_are_expected() -> None:
    right = [Added(Word("sky", "pixels", score), expected=True) for score in (0.9, 0.8, 0.7)]
    wrong = [
        Added(Word("water", "pixels", score), expected=False) for score in (0.35, 0.3, 0.2, 0.1)
    ]
    noise = [Added(Word("tree", "next classes", 0.9), expected=False)] * 5
    fitted = fit_thresholds([[*right, *wrong, *noise]])
    # From 0.15 up: three right of six; from 0.1 down: three of seven.
    assert fitted[("pixels", "")] == 0.15
    assert fitted[("next classes", "")] is None
    assert said(Added(Word("sky", "pixels", 0.2), expected=True), fitted)
    assert not said(Added(Word("sky", "pixels", 0.1), expected=True), fitted)
    assert not said(Added(Word("tree", "next classes", 1.0), expected=True), fitted)


@pytest.mark.slow
def test_levels_hold_each_other_on_real_pictures() -> None:
    """On real photographs: the caption scores as the quality benchmark scores it, and every
    level of evidence scores at least the one before it."""
    cases = [
        case
        for case in load_cases()
        if case.source.kind == INSTALLED and not case.held_out and len(case.expected) >= 3
    ][:6]
    results = measure(cases)
    assert len(results) == len(cases)
    for result in results:
        assert 0.0 <= result.caption <= result.best <= result.stages <= result.models <= 1.0
        assert result.caption <= result.things <= result.stages
    assert any(result.models > result.caption for result in results)
    written = {result.case.id: result.hit_rate for result in caption_all(cases, 2, objects=True)}
    assert {result.case.id: result.caption for result in results} == written
