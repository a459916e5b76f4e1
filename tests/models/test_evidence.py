"""The captioner fills the evidence records (poses, surroundings, colours) for every picture,
from real photographs: the quality corpus's tuning photos and scikit-image's."""

from __future__ import annotations

import pytest
from benchmarks.quality.photos import photo as corpus_photo
from PIL import Image

from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.models.offline.compose.sentence import Findings, SentenceWriter
from tests.conftest import photo


@pytest.fixture(scope="module")
def captioner() -> OfflineCaptioner:
    captioner = OfflineCaptioner(threads=2)
    captioner.load()
    return captioner


@pytest.fixture
def findings(monkeypatch: pytest.MonkeyPatch) -> list[Findings]:
    """What the real sentence writer is handed, captured on the way (it still writes)."""
    seen: list[Findings] = []
    write = SentenceWriter.write

    def capture(self: SentenceWriter, found: Findings, options: CaptionOptions) -> object:
        seen.append(found)
        return write(self, found, options)

    monkeypatch.setattr(SentenceWriter, "write", capture)
    return seen


def evidence(captioner: OfflineCaptioner, found: list[Findings], image: Image.Image) -> Findings:
    found.clear()
    captioner.caption_batch([image], CaptionOptions())
    (result,) = found
    return result


def test_every_picture_gets_surroundings(
    captioner: OfflineCaptioner, findings: list[Findings]
) -> None:
    for name in ("chelsea", "coffee", "rocket", "hubble_deep_field"):
        assert evidence(captioner, findings, photo(name)).surroundings is not None, name


def test_people_get_a_pose(captioner: OfflineCaptioner, findings: list[Findings]) -> None:
    found = evidence(captioner, findings, photo("astronaut"))
    (pose,) = found.poses
    person = next(thing for thing in found.things if thing.has("person"))
    assert pose.box == person.main
    # A portrait from the waist up: no legs, so no posture is claimed.
    assert pose.activity is None
    assert evidence(captioner, findings, photo("chelsea")).poses == ()
    # The cameraman, cut at the knees, his thighs hanging straight: standing, but not surely.
    (cameraman,) = evidence(captioner, findings, photo("camera")).poses
    assert cameraman.activity == "standing"
    assert 0.1 < cameraman.score < 0.6
    # A portrait (a face a quarter of the picture tall) shows no legs: the pose model is not run.
    portrait = evidence(captioner, findings, photo("grace_hopper"))
    assert portrait.portrait
    assert portrait.poses == ()


@pytest.mark.parametrize(
    ("case", "ground", "background"),
    [
        ("fb_geese", {"grass"}, set()),
        ("caer_snowy_peaks", set(), {"mountains", "sky"}),
        ("fb_ibises", set(), {"sky"}),
        ("pygame_source_code", set(), set()),  # a white screenshot: no snow, no sky
        ("fb_shoe", set(), set()),  # a product on white
    ],
)
def test_ground_and_background_of_tuning_photos(
    captioner: OfflineCaptioner,
    findings: list[Findings],
    case: str,
    ground: set[str],
    background: set[str],
) -> None:
    surroundings = evidence(captioner, findings, corpus_photo(case)).surroundings
    assert surroundings is not None
    assert {place.name for place in surroundings.ground} == ground
    assert {place.name for place in surroundings.background} == background


def test_indoors_and_outdoors_of_tuning_photos(
    captioner: OfflineCaptioner, findings: list[Findings]
) -> None:
    hall = evidence(captioner, findings, corpus_photo("fb_deck_chairs")).surroundings
    assert hall is not None
    assert hall.indoors is not None
    assert hall.indoors > 0.8
    village = evidence(captioner, findings, corpus_photo("fb_village")).surroundings
    assert village is not None
    assert village.indoors is not None
    assert village.indoors < 0.2


@pytest.mark.parametrize(
    ("case", "label", "colour"),
    [
        ("caer_black_cat", "cat", "black"),
        ("fb_suv_rocks", "car", "blue"),
        ("kivy_cat_mug", "cup", "white"),
    ],
)
def test_clear_colours_of_tuning_photos(
    captioner: OfflineCaptioner, findings: list[Findings], case: str, label: str, colour: str
) -> None:
    colours = evidence(captioner, findings, corpus_photo(case)).colours
    assert colours[label].name == colour


def test_frames_get_no_colour(captioner: OfflineCaptioner, findings: list[Findings]) -> None:
    """Red deck chairs: a chair's box shows the floor through its frame, so chairs get none."""
    found = evidence(captioner, findings, corpus_photo("fb_deck_chairs"))
    assert any(thing.noun.label == "chair" for thing in found.things)
    assert "chair" not in found.colours


def test_black_and_white_photos_get_no_colours(
    captioner: OfflineCaptioner, findings: list[Findings]
) -> None:
    found = evidence(captioner, findings, photo("camera"))
    assert found.things
    assert found.colours == {}


def test_the_stages_can_be_left_out(findings: list[Findings]) -> None:
    before = OfflineCaptioner(threads=2, evidence=False)
    before.load()
    found = evidence(before, findings, photo("astronaut"))
    assert found.poses == ()
    assert found.surroundings is None
    assert found.colours == {}
