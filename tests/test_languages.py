"""The caption's language from ``lang`` and ``Accept-Language``, against what a model serves."""

from __future__ import annotations

import pytest

from imagecaption.api.languages import negotiate, preferences
from imagecaption.errors import BadInput

SERVED = ("en", "de", "fr", "pt")


@pytest.mark.parametrize(
    ("lang", "served"),
    [
        ("de", "de"),
        ("DE", "de"),
        ("de-AT", "de"),
        ("de_DE", "de"),  # a CMS's locale
        ("pt-BR", "pt"),  # the region is not served: its language is
        ("pt-PT", "pt"),
        ("en-GB", "en"),
        ("fr-CA", "fr"),
    ],
)
def test_lang_picks_the_served_language(lang: str, served: str) -> None:
    assert negotiate(lang, "fr", SERVED) == served


@pytest.mark.parametrize("lang", ["ja", "es", "ca", "zz", "not a tag", "x"])
def test_a_lang_not_served_is_refused_with_the_list(lang: str) -> None:
    with pytest.raises(BadInput) as refused:
        negotiate(lang, None, SERVED)
    assert refused.value.status_code == 400
    assert "en, de, fr, pt" in refused.value.message


@pytest.mark.parametrize(
    ("header", "served"),
    [
        ("de", "de"),
        ("ja, fr;q=0.9, de;q=0.8", "fr"),
        ("de;q=0.5, fr;q=0.9", "fr"),
        ("pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7", "pt"),
        ("ja, zh-TW;q=0.8", "en"),  # nothing served: English, not an error
        ("*", "en"),
        ("de;q=0, fr;q=0.1", "fr"),  # q=0 means "not this one"
        ("de;q=abc", "en"),
        (";;;,,,", "en"),
        ("", "en"),
    ],
)
def test_accept_language_picks_the_best_served_or_english(header: str, served: str) -> None:
    assert negotiate(None, header, SERVED) == served


def test_lang_wins_over_accept_language() -> None:
    assert negotiate("pt", "de, fr", SERVED) == "pt"


def test_preferences_are_ordered_by_weight_then_position() -> None:
    assert preferences("a;q=0.5, b, c;q=0.5, d;q=1.0") == ["b", "d", "a", "c"]
