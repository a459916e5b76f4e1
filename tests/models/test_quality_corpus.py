"""The caption quality corpus loads from its packages, and its scorer scores right.

No captioning here: this guards the benchmark's inputs and arithmetic, so a number it reports
can be trusted to come from the pictures and words on record.
"""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks.quality.archives import FETCHERS, SourceUnavailable
from benchmarks.quality.photos import (
    CASES_DIR,
    CASES_GLOB,
    INSTALLED,
    KINDS,
    Case,
    load_cases,
    load_image,
)
from benchmarks.quality.scoring import mentions, score
from PIL import Image

CASES = load_cases()


def test_there_are_enough_cases_with_unique_ids() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) >= 50
    assert len(set(ids)) == len(ids)


def _wholly_held_out(group: str) -> bool:
    return all(case.held_out for case in CASES if case.group == group)


def test_about_a_third_of_the_drawn_groups_is_held_out() -> None:
    """Groups that drew a held-out part; a group held out whole is not a draw."""
    drawn = [case for case in CASES if not _wholly_held_out(case.group)]
    held_out = sum(case.held_out for case in drawn)
    assert 0.25 <= held_out / len(drawn) <= 0.4


# Groups held out whole, oldest first: each took the place of the one before as the unseen
# measure once that one's captions had been printed. The last is the unseen measure now.
WHOLE_GROUPS = ("cases_unseen_themes", "cases_fresh_everyday", "cases_fresh_daily")


def test_the_groups_held_out_whole_are_the_unseen_measures_on_record() -> None:
    whole = {case.group for case in CASES if _wholly_held_out(case.group)}
    assert whole == set(WHOLE_GROUPS)
    for group in WHOLE_GROUPS:
        assert sum(case.group == group for case in CASES) >= 45, group
    assert sum(case.group == WHOLE_GROUPS[-1] for case in CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_every_case_is_well_formed(case: Case) -> None:
    assert case.expected, "at least one word group"
    assert all(group and all(word.strip() for word in group) for group in case.expected)
    assert case.kinds
    assert set(case.kinds) <= KINDS
    assert case.licence
    assert case.shows
    if case.source.kind != INSTALLED:  # a fetched archive, pinned by its checksum
        assert case.source.kind in {*FETCHERS, "debian"}
        assert len(case.source.sha256) == 64
        assert int(case.source.sha256, 16) >= 0


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_every_picture_loads_as_a_photo_sized_rgb_image(case: Case) -> None:
    try:
        image = load_image(case)
    except SourceUnavailable as error:  # a fetched source that cannot be had here
        pytest.skip(str(error))
    assert isinstance(image, Image.Image)
    assert image.mode == "RGB"
    assert min(image.size) >= 160, image.size
    assert max(image.size) >= 250, image.size
    assert np.asarray(image).std() > 10, "not a blank or near-blank picture"


def test_a_caption_naming_every_group_scores_one() -> None:
    expected = [["man", "person", "player"], ["ball"], ["field", "grass"]]
    result = score("Two men kick a ball across the grass.", expected)
    assert result.matched == (True, True, True)
    assert result.hit_rate == 1.0


def test_a_caption_naming_some_groups_scores_the_share_it_names() -> None:
    expected = [["man", "person"], ["ball"], ["field", "grass"]]
    assert score("A person on a field.", expected).hit_rate == pytest.approx(2 / 3)


def test_a_caption_naming_nothing_expected_scores_zero() -> None:
    expected = [["cat", "kitten"], ["sofa", "couch"]]
    result = score("A catalogue of scattered concatenations.", expected)
    assert result.matched == (False, False)
    assert result.hit_rate == 0.0


def test_forbidden_words_are_reported() -> None:
    result = score("A dog beside a Dogwood tree.", [["horse"]], forbidden=["dog", "cat"])
    assert result.hit_rate == 0.0
    assert result.forbidden_found == ("dog",)


@pytest.mark.parametrize(
    ("caption", "phrase"),
    [
        ("Three puppies.", "puppy"),
        ("Geese on a lawn.", "goose"),
        ("Autumn leaves.", "leaf"),
        ("Two women talking.", "woman"),
        ("BUSES IN TRAFFIC.", "bus"),
        ("An astronaut in a space-suit.", "space suit"),
        ("A cat's whiskers.", "cat"),
    ],
)
def test_plurals_case_and_hyphens_still_match(caption: str, phrase: str) -> None:
    assert mentions(caption, phrase)


@pytest.mark.parametrize(
    ("caption", "phrase"),
    [("A caterpillar.", "cat"), ("A scarf.", "car"), ("Spaces suit him.", "space suit")],
)
def test_only_whole_words_match(caption: str, phrase: str) -> None:
    assert not mentions(caption, phrase)


def test_each_case_knows_its_cases_file_and_each_file_holds_out_its_own_part() -> None:
    groups = {case.group for case in CASES}
    assert groups == {path.stem for path in CASES_DIR.glob(CASES_GLOB)}
    for group in groups:
        members = [case for case in CASES if case.group == group]
        share = sum(case.held_out for case in members) / len(members)
        # a third, half for the npm themes group, or all of the group held out whole
        assert 0.3 <= share <= 0.55 or share == 1.0, (group, share)
