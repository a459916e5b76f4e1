"""The byte limit stops a stream as soon as it is crossed, not after buffering everything."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from imagecaption.errors import PayloadTooLarge
from imagecaption.images import check_content_length, payload_too_large, read_limited


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_reads_everything_up_to_the_limit() -> None:
    assert await read_limited(chunks(b"ab", b"", b"cd"), max_bytes=4) == b"abcd"
    assert await read_limited(chunks(), max_bytes=4) == b""


async def test_stops_at_the_first_chunk_that_crosses_the_limit() -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield bytes(1000)

    with pytest.raises(PayloadTooLarge, match=r"larger than the 4\.9 KB limit"):
        await read_limited(endless(), max_bytes=5000)
    assert pulled == 6


@pytest.mark.parametrize(
    ("max_bytes", "shown"),
    [
        (5 * 1024 * 1024, "5 MB"),
        (1536 * 1024, "1.5 MB"),
        (100 * 1024, "100 KB"),
        (10, "10 bytes"),
    ],
)
def test_message_names_the_limit(max_bytes: int, shown: str) -> None:
    error = payload_too_large(max_bytes)
    assert error.message == f"The image is larger than the {shown} limit."
    assert error.status_code == 413


def test_declared_length() -> None:
    check_content_length(None, 10)
    check_content_length("10", 10)
    check_content_length("not a number", 10)
    with pytest.raises(PayloadTooLarge):
        check_content_length("11", 10)
