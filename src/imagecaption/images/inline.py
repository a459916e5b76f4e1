"""Images sent inside a JSON body: a URL to fetch, a data URI or bare base64.

The vendor SDKs put all three into the same "image" field, so the value itself has to say which
one it is. Base64 never contains ":", which makes any "scheme:" prefix unambiguous.
"""

from __future__ import annotations

import binascii
import re
from typing import Literal

from imagecaption.errors import BadInput
from imagecaption.images.limits import payload_too_large

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31}):")
_URL_SAFE_TO_STANDARD = str.maketrans("-_", "+/")


def classify_image_value(value: str) -> Literal["url", "inline"]:
    """Tell a remote URL from inline data, refusing schemes we will not fetch (file:, ftp: ...)."""
    match = _SCHEME.match(value.strip())
    if match is None:
        return "inline"
    scheme = match.group(1).lower()
    if scheme in ("http", "https"):
        return "url"
    if scheme == "data":
        return "inline"
    raise BadInput("Only http and https URLs are supported.")


def decode_inline_image(value: str, max_bytes: int) -> bytes:
    """Decode a data URI or bare base64 into bytes, refusing oversized data before decoding it.

    Clients wrap base64 at 76 columns, drop the padding or use the URL-safe alphabet, and all of
    that is accepted. The media type of a data URI is ignored: the bytes decide the type later.
    """
    payload = value.strip()
    if payload[:5].lower() == "data:":
        header, comma, payload = payload[5:].partition(",")
        if not comma:
            raise BadInput("The data URI is malformed: it has no comma before the data.")
        if "base64" not in (part.strip().lower() for part in header.split(";")[1:]):
            raise BadInput("Only base64 data URIs are supported.")
    compact = "".join(payload.split()).rstrip("=")
    # Three bytes per four characters: the exact decoded size, known without decoding anything.
    if len(compact) * 3 // 4 > max_bytes:
        raise payload_too_large(max_bytes)
    padded = compact.translate(_URL_SAFE_TO_STANDARD) + "=" * (-len(compact) % 4)
    try:
        return binascii.a2b_base64(padded.encode("ascii"), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise BadInput("The image is not valid base64.") from exc
