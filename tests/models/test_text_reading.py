"""The read stage on real models: words drawn with Pillow at several sizes, turned, on photos and
on pages; real photographs and screenshots with text; photos without any; and installs without
the ``ocr`` extra."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest
from benchmarks.quality.photos import photo as corpus_photo
from PIL import Image

from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.models.offline.compose.kind import PictureStats
from imagecaption.models.offline.compose.text import QUOTED_FIRST, lines_to_read
from imagecaption.models.offline.labels import load_labels
from imagecaption.models.offline.text import (
    GAP,
    LINE_BOX,
    MISSING,
    READ_SIDE,
    Plan,
    Sizing,
    TextCheck,
    TextReader,
    keep_sure_words,
    plan_reading,
)
from imagecaption.models.offline.text_cues import TextCues
from tests.conftest import photo
from tests.text_images import lettering, page, sign_on

WORDS = "Fresh Bread Daily"
GENESIS = [
    "In the beginning God created the heaven",
    "and the earth. And the earth was without",
    "form, and void; and darkness was upon",
    "the face of the deep. And the Spirit of God",
    "moved upon the face of the waters.",
]


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return TextReader(threads=2)


@pytest.fixture(scope="module")
def captioner() -> OfflineCaptioner:
    loaded = OfflineCaptioner(threads=2)
    loaded.load()
    return loaded


def read(reader: TextReader, image: Image.Image) -> str:
    """What the reader reads as the captioner asks it: its check, then the reading it sizes."""
    check = reader.check(image)
    assert check is not None
    return " ".join(line.text for line in reader.read(image, check))


def boxes(*rectangles: tuple[float, float, float, float]) -> np.ndarray:
    """Line boxes as the detector gives them (corners clockwise from the top left) from
    ``(left, top, width, height)``."""
    return np.array(
        [[[x, y], [x + w, y], [x + w, y + h], [x, y + h]] for x, y, w, h in rectangles],
        dtype=np.float32,
    )


def caption(captioner: OfflineCaptioner, image: Image.Image, **options: object) -> str:
    return captioner.caption_batch([image], CaptionOptions(**options))[0].text  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [14, 24, 48, 96])
def test_words_are_read_at_every_size(reader: TextReader, size: int) -> None:
    assert read(reader, lettering(WORDS, size, canvas=(max(640, size * 10), 480))) == WORDS


@pytest.mark.parametrize("angle", [8, 25, 90])
def test_turned_words_are_read(reader: TextReader, angle: int) -> None:
    assert read(reader, lettering(WORDS, 40, angle=angle)) == WORDS


def test_light_words_on_a_dark_ground_are_read(reader: TextReader) -> None:
    picture = lettering("EXIT", 60, ink=(250, 250, 250), paper=(20, 60, 140))
    assert read(reader, picture) == "EXIT"


def test_the_boxes_hold_the_words(reader: TextReader) -> None:
    (found,) = reader.read(lettering("Main St", 48))
    left, top, right, bottom = found.box
    assert 0.3 < left < right < 0.7
    assert 0.4 < top < bottom < 0.6
    assert 0.9 <= found.score <= 1.0


def test_a_sign_on_a_photo_is_quoted(captioner: OfflineCaptioner) -> None:
    picture = sign_on(photo("rocket"), "Launch Pad 39A", share=0.7)
    result = captioner.caption_batch([picture], CaptionOptions())[0]
    assert '"Launch Pad 39A"' in result.text, result.text
    assert result.text_lines is not None
    assert [line.text for line in result.text_lines] == ["Launch Pad 39A"]


def test_a_printed_page_is_quoted_from_its_beginning(captioner: OfflineCaptioner) -> None:
    assert caption(captioner, page(GENESIS)) == (
        'A page of printed text beginning "In the beginning God created the heaven and...".'
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("fb_bottle_cap", 'A bottle cap that reads "BAVIK".'),
        ("page", 'A page of printed text beginning "Region-based segmentation Let us first'),
        ("augly_web_page", 'A screenshot of a page titled "'),
        ("pygame_source_code", '"import pygame, sys'),
    ],
)
def test_real_pictures_with_text(captioner: OfflineCaptioner, case: str, expected: str) -> None:
    text = caption(captioner, corpus_photo(case))
    assert expected in text, text


def test_a_screenshots_lines_are_all_in_the_details(captioner: OfflineCaptioner) -> None:
    options = CaptionOptions(every_line=True)
    result = captioner.caption_batch([corpus_photo("augly_web_page")], options)[0]
    assert result.text_lines is not None
    texts = [line.text for line in result.text_lines]
    assert {"John Doe", "Stories"} <= set(texts), texts


@pytest.mark.parametrize(
    "picture",
    [photo("chelsea"), photo("coffee"), photo("astronaut"), corpus_photo("fb_ibises")],
    ids=["chelsea", "coffee", "astronaut", "fb_ibises"],
)
def test_photos_without_text_read_nothing(
    captioner: OfflineCaptioner, picture: Image.Image
) -> None:
    result = captioner.caption_batch([picture], CaptionOptions())[0]
    assert result.text_lines == ()
    assert '"' not in result.text


def test_reading_can_be_turned_off(captioner: OfflineCaptioner) -> None:
    picture = corpus_photo("fb_bottle_cap")
    result = captioner.caption_batch([picture], CaptionOptions(read_text=False))[0]
    assert result.text == "A bottle cap."
    assert result.text_lines is None


def test_unsure_words_are_left_out_never_guessed() -> None:
    words = [("Fresh", 0.99, None), ("Brcad", 0.41, None), ("Daily", 0.97, None)]
    assert keep_sure_words("Fresh Brcad Daily", words) == (f"Fresh {GAP} Daily", 0.98)
    assert keep_sure_words("O", [("O", 0.95, None)]) is None  # a mark, not a word
    assert keep_sure_words("xq zz", [("xq", 0.3, None), ("zz", 0.2, None)]) is None
    letters = [("C", 0.99, None), (":", 0.99, None), ("W", 0.99, None)]
    assert keep_sure_words("C:W", letters) == ("C:W", pytest.approx(0.99))  # its own spacing


def test_the_cues_send_only_likely_pictures_to_the_reader() -> None:
    cues = TextCues(load_labels())
    photo_like = PictureStats(
        chroma=40, brightness=120, background=0.3, ink=0.4, detail=20, detail_spread=0.4
    )
    plain = PictureStats(
        chroma=2, brightness=240, background=0.98, ink=0.01, detail=3, detail_spread=2
    )

    def scene(index: int, probability: float) -> np.ndarray:
        result = np.full(1000, (1.0 - probability) / 999)
        result[index] = probability
        return result

    tabby, street_sign, menu = 281, 919, 922
    assert not cues.suggest_text(scene(tabby, 0.9), [], [], photo_like)
    assert cues.suggest_text(scene(street_sign, 0.4), [], [], photo_like)
    assert cues.suggest_text(scene(tabby, 0.9), [scene(menu, 0.5)], [], photo_like)
    assert cues.suggest_text(scene(tabby, 0.9), [], [], plain)


def test_without_the_ocr_extra_nothing_is_read_and_the_log_says_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr", None)
    captioner = OfflineCaptioner(threads=2)
    with caplog.at_level(logging.WARNING):
        captioner.load()
    assert MISSING in caplog.text
    assert captioner.info.text_reader is None
    result = captioner.caption_batch([corpus_photo("fb_bottle_cap")], CaptionOptions())[0]
    assert result.text == "A bottle cap."
    assert result.text_lines is None


def test_the_model_info_names_the_reader(captioner: OfflineCaptioner) -> None:
    assert captioner.info.text_reader is not None
    assert captioner.info.text_reader.startswith("rapidocr ")


def test_the_detector_is_sized_from_the_checks_smallest_line() -> None:
    # A 384 x 191 page whose smallest line box is 24 pixels tall: enlarged so that it is
    # LINE_BOX tall, not to a 544-pixel short side (2.8 times), and still detected.
    page_check = TextCheck(boxes((3, 7, 260, 30), (1, 45, 380, 24)), scale=320 / 384)
    plan = plan_reading(page_check, 384, 191, Sizing())
    assert plan.scale == pytest.approx(LINE_BOX / 24)
    assert not plan.reuse
    # Small print is never enlarged more than before the check sized the reading ...
    code = TextCheck(boxes((0, 0, 200, 12)), scale=320 / 399)
    assert plan_reading(code, 399, 298, Sizing()).scale == pytest.approx(READ_SIDE / 298)
    # ... and a picture larger than that is not enlarged for it at all.
    screen = TextCheck(boxes((0, 0, 200, 12)), scale=320 / 1200)
    assert plan_reading(screen, 1200, 736, Sizing()).scale == 1.0


def test_big_letters_are_read_from_the_checks_own_boxes() -> None:
    # A bottle cap's word, 111 pixels tall in a 512-pixel picture: the check's copy (0.625 of
    # it) shows it 69 pixels tall, large enough to cut it out and read it as it is.
    cap = TextCheck(boxes((120, 200, 280, 111)), scale=320 / 512)
    plan = plan_reading(cap, 512, 512, Sizing())
    assert plan.scale is not None
    assert plan.scale < cap.scale
    assert plan.reuse
    assert not plan_reading(cap, 512, 512, Sizing(reuse=False)).reuse
    # A smaller line on the check's copy (18 of its pixels): detected again, at its size.
    page_check = TextCheck(boxes((3, 7, 260, 30), (1, 45, 380, 22)), scale=320 / 384)
    assert not plan_reading(page_check, 384, 191, Sizing()).reuse


def test_the_angle_classifier_runs_only_for_standing_lines() -> None:
    lying = TextCheck(boxes((0, 0, 300, 40), (0, 60, 120, 40)), scale=0.5)
    standing = TextCheck(boxes((0, 0, 300, 40), (400, 0, 40, 300)), scale=0.5)
    assert not plan_reading(lying, 640, 480, Sizing()).classify
    assert plan_reading(standing, 640, 480, Sizing()).classify
    assert plan_reading(lying, 640, 480, Sizing(classify="always")).classify
    assert plan_reading(None, 640, 480, Sizing()) == Plan(scale=None, reuse=False, classify=True)


def test_a_sign_read_from_the_checks_boxes_reads_its_words(reader: TextReader) -> None:
    picture = lettering("OPEN 24", 120)
    check = reader.check(picture)
    assert check is not None
    assert plan_reading(check, *picture.size, reader.sizing).reuse
    (found,) = reader.read(picture, check)
    assert found.text == "OPEN 24"
    assert 0.1 < found.box[0] < found.box[2] < 0.9


def test_a_page_read_at_the_size_its_check_calls_for_reads_the_small_print(
    reader: TextReader,
) -> None:
    # Enlarged to a 544-pixel short side, the detector ran these two lines of the scanned page
    # together and they came out garbled ("unt o bre").
    texts = read(reader, corpus_photo("page"))
    assert "unambiguously as either object or background" in texts, texts
    assert "the markers are found at the two extreme parts of the" in texts, texts


def test_without_details_only_the_lines_a_caption_quotes_are_read(reader: TextReader) -> None:
    picture = page(GENESIS * 2)
    check = reader.check(picture)
    assert check is not None
    every = [line.text for line in reader.read(picture, check)]
    assert len(every) == 2 * len(GENESIS)
    assert every[0] == GENESIS[0]
    # The detector looks only at the band holding the first lines, and those alone are read.
    quoted = [line.text for line in reader.read(picture, check, lines_to_read)]
    beginnings = [text.split()[:3] for text in every[:QUOTED_FIRST]]
    assert [text.split()[:3] for text in quoted] == beginnings


def test_the_caption_is_the_same_from_the_lines_it_quotes(captioner: OfflineCaptioner) -> None:
    picture = corpus_photo("pygame_source_code")
    quoted = captioner.caption_batch([picture], CaptionOptions())[0]
    every = captioner.caption_batch([picture], CaptionOptions(every_line=True))[0]
    assert quoted.text == every.text
    assert quoted.text_lines is not None
    assert every.text_lines is not None
    assert len(quoted.text_lines) < len(every.text_lines)
    assert quoted.text_lines[0].text == every.text_lines[0].text == "import pygame, sys #1"
