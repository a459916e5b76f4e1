"""The type comes from the bytes: a right file with a wrong name passes, a wrong file never does."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imagecaption.errors import BadInput
from imagecaption.images import ACCEPTED_TYPES, ImageFormat, sniff_format


def encode(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 20, 30)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("image_format", list(ImageFormat))
def test_every_accepted_format_is_recognised(image_format: ImageFormat) -> None:
    assert sniff_format(encode(image_format.name)) is image_format


def test_accepted_types_are_the_five_formats() -> None:
    assert [str(kind) for kind in ACCEPTED_TYPES] == ["jpeg", "png", "gif", "webp", "bmp"]


def test_empty_data_says_so() -> None:
    with pytest.raises(BadInput, match="The image is empty"):
        sniff_format(b"")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"hello, I am a text file someone named cat.jpg\n", id="text-named-jpg"),
        pytest.param(b"%PDF-1.7\n" + bytes(100), id="pdf"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"/>', id="svg"),
        pytest.param(b"RIFF\x24\x00\x00\x00WAVEfmt ", id="wav-is-riff-but-not-webp"),
        pytest.param(b"BMW 320i, one careful owner" + bytes(20), id="bm-prefix-text"),
        pytest.param(b"\x00\x00\x00\x1cftypavif" + bytes(20), id="avif"),
        pytest.param(b"II*\x00" + bytes(20), id="tiff"),
    ],
)
def test_other_bytes_are_refused_naming_the_accepted_types(data: bytes) -> None:
    with pytest.raises(BadInput) as caught:
        sniff_format(data)
    assert caught.value.message == (
        "Unsupported image type. Accepted types: JPEG, PNG, GIF, WEBP, BMP."
    )
    assert caught.value.status_code == 400
