"""The class table: complete, in the standard ImageNet order, and readable in a sentence."""

from __future__ import annotations

import re

from imagecaption.models.offline.labels import CATEGORIES, load_labels

LABELS = load_labels()


def test_there_is_one_label_per_class_in_the_standard_order() -> None:
    assert len(LABELS) == 1000
    assert LABELS[0].wnid == "n01440764"  # tench
    assert LABELS[281].wnid == "n02123045"  # tabby cat
    assert LABELS[999].wnid == "n15075141"  # toilet tissue
    assert len({label.wnid for label in LABELS}) == 1000


def test_phrases_read_as_plain_english() -> None:
    for label in LABELS:
        for text in (label.phrase, label.group, label.context):
            assert text == text.strip()
            assert not re.search(r"[_,;()]|\s\s", text), text
        assert label.phrase, label
        assert label.category in CATEGORIES


def test_awkward_wordnet_names_are_rewritten() -> None:
    phrases = {label.phrase for label in LABELS}
    for raw in ("tiger cat", "maillot", "black-and-tan coonhound", "crane", "sunglass", "ashcan"):
        assert raw not in phrases
    assert LABELS[282].phrase == "a tabby cat"
    assert LABELS[134].phrase == "a crane"
    assert LABELS[134].category == "bird"
    assert LABELS[517].phrase == "a construction crane"


def test_articles_agree_with_the_next_word() -> None:
    exceptions = {
        "an hourglass",
        "a one-piece swimsuit",
        "an MP3 player",
        "a uniform",
        "a unicycle",
    }
    for label in LABELS:
        for text in (label.phrase, label.group):
            match = re.match(r"(a|an) (\S)", text)
            if match and text not in exceptions:
                article, initial = match.groups()
                assert (article == "an") == (initial.lower() in "aeiou"), text


def test_classes_sharing_a_phrase_agree_on_how_it_is_used() -> None:
    """Probabilities of a shared phrase are summed, so its rows must not contradict each other."""
    seen: dict[str, tuple[str, str]] = {}
    for label in LABELS:
        usage = (label.category, label.context)
        assert seen.setdefault(label.phrase, usage) == usage, label


def test_scenes_and_places_say_where() -> None:
    for label in LABELS:
        if label.category in {"scene", "place"}:
            assert re.match(r"(in|on|at|by|near) ", label.context), label
