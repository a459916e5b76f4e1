"""The byte limit, enforced while data arrives rather than after it has all been buffered.

Uploads, inline base64 and downloaded URLs share these helpers so that a client sees the same
413 message whichever way the image came.
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from imagecaption.errors import PayloadTooLarge

_UNITS = (("MB", 1024 * 1024), ("KB", 1024))


def format_size(size: int) -> str:
    """Sizes as every message and page shows them: MB and KB of 1,024, one decimal at most."""
    for unit, factor in _UNITS:
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def payload_too_large(max_bytes: int) -> PayloadTooLarge:
    """The one 413 error for every input path, naming the limit the operator configured."""
    return PayloadTooLarge(f"The image is larger than the {format_size(max_bytes)} limit.")


def check_content_length(content_length: str | None, max_bytes: int) -> None:
    """Refuse a declared length over the limit before a single body byte is read.

    A missing or malformed header is left to the streaming check: the HTTP parser rejects a
    malformed one anyway, and refusing here would only duplicate its message.
    """
    if content_length is None:
        return
    try:
        declared = int(content_length)
    except ValueError:
        return
    if declared > max_bytes:
        raise payload_too_large(max_bytes)


async def read_limited(chunks: AsyncIterable[bytes], max_bytes: int) -> bytes:
    """Collect a stream, refusing it as soon as it would exceed max_bytes.

    The check runs before a chunk is kept, so at most max_bytes are ever buffered here, whatever
    the sender claims or however it splits the data.
    """
    buffer = bytearray()
    async for chunk in chunks:
        if len(buffer) + len(chunk) > max_bytes:
            raise payload_too_large(max_bytes)
        buffer += chunk
    return bytes(buffer)
