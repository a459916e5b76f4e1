"""Inline images: every way the SDKs and browsers write base64, and the refusals."""

from __future__ import annotations

import base64

import pytest

from imagecaption.errors import BadInput, PayloadTooLarge
from imagecaption.images import classify_image_value, decode_inline_image

DATA = bytes(range(256)) * 4 + b"\xff\xfe"  # 1026 bytes: needs padding, has '+' and '/' in base64
ENCODED = base64.b64encode(DATA).decode()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(ENCODED, id="bare"),
        pytest.param(f"data:image/png;base64,{ENCODED}", id="data-uri"),
        pytest.param(f"DATA:Image/JPEG;charset=x;BASE64,{ENCODED}", id="data-uri-any-case"),
        pytest.param(f"data:application/octet-stream;base64,{ENCODED}", id="any-media-type"),
        pytest.param(f"  {ENCODED}\n", id="surrounding-space"),
        pytest.param("\n".join(ENCODED[i : i + 76] for i in range(0, len(ENCODED), 76)), id="mime"),
        pytest.param(ENCODED.replace("\n", "\r\n ").rstrip("="), id="no-padding"),
        pytest.param(base64.urlsafe_b64encode(DATA).decode(), id="url-safe"),
        pytest.param(base64.urlsafe_b64encode(DATA).decode().rstrip("="), id="url-safe-no-padding"),
    ],
)
def test_accepted_spellings_decode_to_the_same_bytes(value: str) -> None:
    assert decode_inline_image(value, max_bytes=10_000) == DATA


@pytest.mark.parametrize(
    "value",
    ["%%%not base64%%%", "QQ=A", "Q", "QUJD\x00", "QUJDé", f"{ENCODED}==QUJD"],
)
def test_invalid_base64_is_bad_input(value: str) -> None:
    with pytest.raises(BadInput, match="not valid base64"):
        decode_inline_image(value, max_bytes=10_000)


def test_data_uri_must_be_base64_and_well_formed() -> None:
    with pytest.raises(BadInput, match="Only base64 data URIs"):
        decode_inline_image("data:image/png,%89PNG", max_bytes=10_000)
    with pytest.raises(BadInput, match="malformed"):
        decode_inline_image("data:image/png;base64", max_bytes=10_000)


def test_limit_is_exact() -> None:
    assert decode_inline_image(ENCODED, max_bytes=len(DATA)) == DATA
    with pytest.raises(PayloadTooLarge):
        decode_inline_image(ENCODED, max_bytes=len(DATA) - 1)


def test_oversized_data_is_refused_by_its_length_before_decoding() -> None:
    """Six megabytes of characters that are not even base64: refused for size, not content."""
    with pytest.raises(PayloadTooLarge) as caught:
        decode_inline_image("*" * (8 * 1024 * 1024), max_bytes=5 * 1024 * 1024)
    assert caught.value.message == "The image is larger than the 5 MB limit."
    assert caught.value.status_code == 413


def test_empty_value_decodes_to_nothing_for_the_sniffer_to_report() -> None:
    assert decode_inline_image("", max_bytes=10) == b""


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("http://example.org/cat.jpg", "url"),
        ("https://example.org/cat.jpg", "url"),
        ("  HTTPS://EXAMPLE.ORG/CAT.JPG", "url"),
        ("data:image/png;base64,AAAA", "inline"),
        (ENCODED, "inline"),
        ("", "inline"),
    ],
)
def test_classify(value: str, kind: str) -> None:
    assert classify_image_value(value) == kind


@pytest.mark.parametrize(
    "value",
    [
        "file:///etc/passwd",
        "ftp://example.org/a.jpg",
        "gopher://127.0.0.1:6379/_INFO",
        "javascript:alert(1)",
        "dict://localhost:11211/stat",
    ],
)
def test_other_schemes_are_refused(value: str) -> None:
    with pytest.raises(BadInput, match=r"^Only http and https URLs are supported\.$"):
        classify_image_value(value)
