"""The shipped recogniser, cut to the characters a caption can quote, reads Latin-script lines as
RapidOCR's full one does: the same strings from the same line crops of real pictures, and the
same lines through the whole reader."""

from __future__ import annotations

from typing import Any

import onnxruntime as ort
import pytest
from benchmarks.quality.photos import photo as corpus_photo
from PIL import Image

from imagecaption.models.offline.text import TextReader, _bgr, latin_recogniser
from tests.conftest import photo
from tests.text_images import lettering, page, sign_on

CASES = {
    "scanned page": lambda: corpus_photo("page"),
    "bottle cap": lambda: corpus_photo("fb_bottle_cap"),
    "source code": lambda: corpus_photo("pygame_source_code"),
    "web page": lambda: corpus_photo("augly_web_page"),
    "accented sign": lambda: lettering("Café Größe Señor Łódź", 40),
    "sign on a photo": lambda: sign_on(photo("rocket"), "Launch Pad 39A", share=0.7),
    "drawn page": lambda: page(["Total: $4.99 (20% off)", "e-mail: shop@example.com"] * 2),
}


@pytest.fixture(scope="module")
def readers() -> tuple[TextReader, TextReader]:
    full, latin = TextReader(2, full_recogniser=True), TextReader(2)
    full.warmup()
    latin.warmup()
    return full, latin


def crops(reader: TextReader, image: Image.Image) -> list[Any]:
    """The line crops the reader's detector cuts from ``image``."""
    bgr = _bgr(image)
    boxes = reader._detect(bgr, None)
    assert len(boxes), "no lines found"
    return list(reader._reader.crop_text_regions(bgr, boxes.copy()))


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_latin_recogniser_reads_the_same_strings(
    readers: tuple[TextReader, TextReader], case: str
) -> None:
    full, latin = readers
    lines = crops(full, CASES[case]())
    expected = full._reader.recognize_txt(lines)
    got = latin._reader.recognize_txt(lines)
    assert list(got.txts) == list(expected.txts)
    # Without the Chinese classes the softmax's mass falls on the Latin ones: never less sure.
    for before, after in zip(expected.scores, got.scores, strict=True):
        assert after >= before - 1e-4


@pytest.mark.parametrize("case", ["scanned page", "source code", "accented sign"])
def test_the_reader_quotes_the_same_lines_with_either_recogniser(
    readers: tuple[TextReader, TextReader], case: str
) -> None:
    full, latin = readers
    image = CASES[case]()
    assert [line.text for line in latin.look(image)] == [line.text for line in full.look(image)]


def test_the_latin_recogniser_scores_blank_its_characters_and_the_space() -> None:
    session = ort.InferenceSession(str(latin_recogniser()), providers=["CPUExecutionProvider"])
    characters = session.get_modelmeta().custom_metadata_map["character"].split("\n")
    assert session.get_outputs()[0].shape[-1] == len(characters) + 2
    assert set("AZaz09.,:;!?$%@()\"'-éüßñŁ€") <= set(characters)
    assert all(ord(character) < 0x2200 for character in characters), "only Latin-script text"
