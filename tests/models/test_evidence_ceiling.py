"""The evidence ceiling benchmark reads the pipeline's own evidence and bounds what it reports.

Its figures say how far any sentence rule could go, so they must come from the very findings
the caption was written from, and each level must hold the one before it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from benchmarks.bench_evidence_ceiling import _added, measure
from benchmarks.bench_quality import caption_all
from benchmarks.quality.photos import INSTALLED, Case, load_cases


def _case(expected: tuple[tuple[str, ...], ...]) -> Case:
    return replace(load_cases()[0], expected=expected)


def test_added_words_skip_what_the_caption_says_and_mark_the_expected_ones() -> None:
    case = _case((("dog", "puppy"), ("grass", "lawn")))
    words = [("a dog", "things"), ("dogs", "things"), ("grass", "pixels"), ("snow", "pixels")]
    added = _added("A dog on a path.", words, case)
    assert added == (("dogs", "things", True), ("grass", "pixels", True), ("snow", "pixels", False))


def test_each_word_is_counted_once() -> None:
    case = _case((("sky",),))
    added = _added("A castle.", [("sky", "places"), ("the sky", "pixels")], case)
    assert added == (("sky", "places", True),)


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
