"""Turn untrusted image bytes into an upright RGB picture, or a clear 400.

Everything here runs in worker threads, so it changes no Pillow globals. Instead of Image.open,
which tries many formats and applies Pillow's process-wide pixel limit, the one plugin for the
sniffed format reads the header, and the caller's own pixel limit is applied to it before a single
pixel is decoded.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from PIL import (
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageFile,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from imagecaption.errors import BadInput
from imagecaption.images.sniff import ImageFormat, sniff_format

_OPENERS: dict[ImageFormat, Callable[[IO[bytes]], ImageFile.ImageFile]] = {
    ImageFormat.JPEG: JpegImagePlugin.jpeg_factory,
    ImageFormat.PNG: PngImagePlugin.PngImageFile,
    ImageFormat.GIF: GifImagePlugin.GifImageFile,
    ImageFormat.WEBP: WebPImagePlugin.WebPImageFile,
    ImageFormat.BMP: BmpImagePlugin.BmpImageFile,
}

_CORRUPT = "The image could not be decoded: it is corrupt or truncated."
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_WHITE = (255, 255, 255)


def _megapixels(pixels: int) -> str:
    value = pixels / 1_000_000
    return (f"{value:.1f}" if value >= 1 else f"{value:.2g}").removesuffix(".0")


def _too_large(pixels: int | None, max_pixels: int) -> BadInput:
    limit = _megapixels(max_pixels)
    if pixels is None:
        return BadInput(f"The image is too large: the limit is {limit} megapixels.")
    return BadInput(
        f"The image is too large: {_megapixels(pixels)} megapixels, the limit is {limit}."
    )


@contextmanager
def _refuse_undecodable(max_pixels: int) -> Iterator[None]:
    """Map whatever Pillow raises on hostile input to a message for the client.

    Pillow's plugins signal bad data with many exception types (OSError, SyntaxError, ValueError,
    struct.error, EOFError...), none of which may reach the client as a 500. Pillow's own bomb
    check still fires in a few places (a GIF frame larger than its screen, MPO), and becomes a
    DecompressionBombWarning exception under a strict warnings filter: both mean "too large".
    """
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(None, max_pixels) from exc
    except Exception as exc:
        raise BadInput(_CORRUPT) from exc


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any mode the accepted formats produce to RGB the way a person would see it."""
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow clips these to 8 bits instead of scaling them, which turns most pixels white.
        image = image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    if image.has_transparency_data:
        # Transparent areas have arbitrary colours underneath; show them as a viewer would: white.
        rgba = image.convert("RGBA")
        flattened = Image.new("RGB", rgba.size, _WHITE)
        flattened.paste(rgba, mask=rgba)
        return flattened
    if image.mode == "RGB":
        return image
    return image.convert("RGB")


def decode_image(data: bytes, *, max_pixels: int) -> Image.Image:
    """Decode the first frame of an accepted image, upright and in RGB, within max_pixels.

    Truncated files are refused rather than half-decoded because Pillow's LOAD_TRUNCATED_IMAGES
    is left at its default (False) and load() is called here, inside the error mapping.
    """
    image_format = sniff_format(data)
    with _refuse_undecodable(max_pixels):
        image = _OPENERS[image_format](io.BytesIO(data))
    width, height = image.size
    if width * height > max_pixels:
        raise _too_large(width * height, max_pixels)
    with _refuse_undecodable(max_pixels):
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        return _to_rgb(image)


def content_hash(data: bytes) -> str:
    """A cache key that identifies the image by its bytes, whatever name or URL it came with."""
    return hashlib.sha256(data).hexdigest()
