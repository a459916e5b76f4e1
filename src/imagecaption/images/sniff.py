"""Decide an image's type from its first bytes.

File names, extensions and declared content types are chosen by the client and prove nothing, so
the magic numbers are the only thing trusted. Knowing the type up front also lets the decoder run
exactly one Pillow plugin instead of letting Pillow try every format it knows (some of which, like
EPS, would start external programs).
"""

from __future__ import annotations

import enum

from imagecaption.errors import BadInput


class ImageFormat(enum.StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    GIF = "gif"
    WEBP = "webp"
    BMP = "bmp"


ACCEPTED_TYPES: tuple[ImageFormat, ...] = tuple(ImageFormat)

# "BM" alone would match plenty of text ("BMW ..."), so a BMP must also carry the size of one of
# the DIB headers that exist (core, v1-v5 and the two Adobe variants) at offset 14.
_BMP_DIB_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})

_UNSUPPORTED = "Unsupported image type. Accepted types: {}.".format(
    ", ".join(image_format.name for image_format in ACCEPTED_TYPES)
)


def sniff_format(data: bytes) -> ImageFormat:
    """Return the format the bytes really are, or refuse them with a message for the client."""
    if not data:
        raise BadInput("The image is empty.")
    if data.startswith(b"\xff\xd8\xff"):
        return ImageFormat.JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageFormat.PNG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return ImageFormat.GIF
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return ImageFormat.WEBP
    if data.startswith(b"BM") and int.from_bytes(data[14:18], "little") in _BMP_DIB_HEADER_SIZES:
        return ImageFormat.BMP
    raise BadInput(_UNSUPPORTED)
