"""The offline captioner on real photographs, odd images, and broken installs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from benchmarks.quality.photos import photo as corpus_photo
from PIL import Image

from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.models.offline.faces import FaceDetector
from tests.conftest import photo


@pytest.fixture(scope="session")
def captioner() -> OfflineCaptioner:
    """One loaded captioner for the session: opening its models takes a moment."""
    captioner = OfflineCaptioner(threads=2)
    captioner.load()
    return captioner


PHOTOS = ["chelsea", "coffee", "astronaut", "rocket", "grace_hopper", "hubble_deep_field", "camera"]
SENTENCE = re.compile(r"^[A-Z][A-Za-z0-9' -]*[A-Za-z0-9]\.$")


def caption(captioner: OfflineCaptioner, image: Image.Image) -> str:
    return captioner.caption_batch([image], CaptionOptions())[0].text


def assert_sentence(text: str) -> None:
    """Capitalised, one full stop at the end, and no WordNet residue (underscores, comma lists)."""
    assert SENTENCE.match(text), text


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("chelsea", {"cat"}),
        ("coffee", {"coffee", "espresso", "cup"}),
        ("astronaut", {"person", "man", "woman", "people"}),
        ("grace_hopper", {"person", "man", "woman", "people"}),
        ("rocket", {"rocket", "missile", "space shuttle"}),
        ("horse", {"horse"}),  # a black silhouette: the detector knows it, the classifier not
    ],
)
def test_the_caption_names_the_subject(
    captioner: OfflineCaptioner, name: str, words: set[str]
) -> None:
    text = caption(captioner, photo(name))
    assert_sentence(text)
    assert any(word in text.lower() for word in words), text


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("motorcycle", {"motorcycle"}),
        ("fb_dalmatian", {"dalmatian"}),  # the detector says giraffe; the classifier corrects it
        ("fb_ibises", {"three birds"}),
        ("caer_mountain", {"mountain"}),
    ],
)
def test_scenes_from_the_quality_corpus(
    captioner: OfflineCaptioner, case: str, words: set[str]
) -> None:
    text = caption(captioner, corpus_photo(case))
    assert_sentence(text)
    assert any(word in text.lower() for word in words), text


def test_wordnet_names_never_show(captioner: OfflineCaptioner) -> None:
    result = captioner.caption_batch([photo("chelsea")], CaptionOptions(num_captions=10))[0]
    for candidate in result.candidates:
        assert "tiger cat" not in candidate.text.lower()
        assert "egyptian" not in candidate.text.lower()


@pytest.mark.parametrize("name", PHOTOS)
def test_every_candidate_is_a_sentence(captioner: OfflineCaptioner, name: str) -> None:
    result = captioner.caption_batch([photo(name)], CaptionOptions(num_captions=10))[0]
    assert len(result.candidates) == 10
    assert len({candidate.text for candidate in result.candidates}) == 10
    assert result.candidates[0].text == result.text
    assert result.score == result.candidates[0].score
    for candidate in result.candidates:
        assert_sentence(candidate.text)
        assert 0.0 <= candidate.score <= 1.0


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_max_length_is_a_word_limit(captioner: OfflineCaptioner, limit: int) -> None:
    images = [photo(name) for name in PHOTOS]
    for result in captioner.caption_batch(images, CaptionOptions(max_length=limit)):
        assert len(result.text.split()) <= limit, result.text
        assert_sentence(result.text)


def test_a_batch_gives_the_same_captions_as_one_by_one(captioner: OfflineCaptioner) -> None:
    images = [photo(name) for name in PHOTOS]
    together = [result.text for result in captioner.caption_batch(images, CaptionOptions())]
    alone = [caption(captioner, image) for image in images]
    assert together == alone


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (1, 1), (255, 0, 0)),
        Image.new("RGB", (2, 3)),
        Image.new("RGB", (4000, 3), (10, 200, 30)),
        Image.new("RGB", (3, 4000), (10, 20, 230)),
        photo("chelsea").resize((4000, 60)),
        photo("chelsea").convert("L"),
        photo("astronaut").convert("RGBA"),
    ],
    ids=["1x1", "2x3", "wide-strip", "tall-strip", "panorama", "grey", "rgba"],
)
def test_odd_images_still_get_a_sentence(captioner: OfflineCaptioner, image: Image.Image) -> None:
    assert_sentence(caption(captioner, image))


def test_a_big_photo_reads_like_its_small_version(captioner: OfflineCaptioner) -> None:
    for name in ("chelsea", "grace_hopper"):
        small = photo(name)
        assert caption(captioner, small.resize((4032, 3024))) == caption(captioner, small)


def test_an_empty_batch_gives_no_captions(captioner: OfflineCaptioner) -> None:
    assert captioner.caption_batch([], CaptionOptions()) == []


def test_faces_are_found_only_where_there_are_people() -> None:
    detector = FaceDetector(threads=2)
    assert len(detector.detect(photo("astronaut"))) == 1
    assert len(detector.detect(photo("grace_hopper"))) == 1
    for name in ("chelsea", "coffee", "rocket", "hubble_deep_field"):
        assert detector.detect(photo(name)) == [], name
    face = detector.detect(photo("astronaut"))[0]
    assert 0.3 < face.left < face.right < 0.6
    assert 0.1 < face.top < face.bottom < 0.4


def test_loading_needs_no_torch_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The models ship in the package: a start neither imports torch nor builds a file."""
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.chdir(tmp_path)
    captioner = OfflineCaptioner()
    captioner.load()
    assert_sentence(caption(captioner, photo("coffee")))
    assert list(tmp_path.iterdir()) == []


def test_captioning_before_loading_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="load"):
        OfflineCaptioner().caption_batch([photo("coffee")], CaptionOptions())


def test_info_names_the_model() -> None:
    info = OfflineCaptioner().info
    assert (info.name, info.backend, info.device, info.preferred_batch_size) == (
        "offline-scene",
        "onnx",
        "cpu",
        8,
    )
    assert OfflineCaptioner(objects=False).info.name == "offline-classifier"


def test_the_detected_objects_come_with_the_caption(captioner: OfflineCaptioner) -> None:
    """``details=true`` shows them; boxes are fractions of the picture, best kept in it."""
    result = captioner.caption_batch([photo("astronaut")], CaptionOptions())[0]
    assert result.objects is not None
    people = [found for found in result.objects if found.label == "person"]
    assert len(people) == 1
    left, top, right, bottom = people[0].box
    assert 0.0 <= left < 0.3 < 0.6 < right <= 1.0  # she fills most of the frame
    assert 0.0 <= top < 0.2 < 0.9 < bottom <= 1.0


def test_without_the_detector_the_classifier_and_faces_still_caption() -> None:
    captioner = OfflineCaptioner(threads=2, objects=False)
    captioner.load()
    assert caption(captioner, photo("chelsea")) == "A tabby cat."
    assert "person" in caption(captioner, photo("grace_hopper"))
