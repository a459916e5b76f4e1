"""Turn untrusted image bytes into an upright RGB picture, or a clear 400, in bounded memory.

Everything here runs in worker threads, so it changes no Pillow globals. Instead of Image.open,
which tries many formats and applies Pillow's process-wide pixel limit, the one plugin for the
sniffed format reads the header, and the caller's own limits are applied to it before a single
pixel is decoded.

Memory is bounded by design, not by luck. The pixel limit alone does not do it: Pillow keeps a
pointer per row, so a 1 x 40,000,000 PNG (78 KB) cost 800 MB to decode where a square of the same
pixel count costs 160 MB, hence the limit on the longest side. What is handed on is shrunk by a
whole factor (a box filter: cheap, and JPEG does it while decoding) to at most
``DECODED_PIXELS``, since no model looks at more than 768 pixels a side and a decoded image stays
in memory until its caption is written. What a decode costs at its peak is known from the header
(``decode_cost``), so the caller can bound how many run at once (see ``PixelBudget``).
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from PIL import (
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageFile,
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

# The longest side JPEG, GIF and WebP can store at all; only PNG and BMP go further, and nothing
# a camera, scanner or screen makes does.
MAX_SIDE = 65_535
# 2048 x 2048: twice the side of the largest model input (Florence-2's 768) with room to crop.
DECODED_PIXELS = 2048 * 2048

_CORRUPT = "The image could not be decoded: it is corrupt or truncated."
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_WHITE = (255, 255, 255)
_ORIENTATION_TAG = 0x0112
_TRANSPOSITIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Pillow warns (UserWarning, from its TIFF reader) about each malformed EXIF tag it skips. The
# tag is the sender's problem and skipping it is all there is to do; left alone, each warning
# went to stderr as a raw line in the middle of the JSON log.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")


def _megapixels(pixels: int) -> str:
    value = pixels / 1_000_000
    return (f"{value:.1f}" if value >= 1 else f"{value:.2g}").removesuffix(".0")


def _too_large(pixels: int | None, max_pixels: int) -> BadInput:
    limit = _megapixels(max_pixels)
    if pixels is None:
        return BadInput(f"The image is too large: the limit is {limit} megapixels.")
    size = _megapixels(pixels)
    if size == limit:  # 40,005,625 pixels is "40" too: show what makes it larger
        size = f"{pixels / 1_000_000:.6f}".rstrip("0")
    return BadInput(f"The image is too large: {size} megapixels, the limit is {limit}.")


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


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise _too_large(width * height, max_pixels)
    if max(width, height) > MAX_SIDE:
        raise BadInput(
            f"The image is too long and thin: {width} x {height} pixels; no side may be longer "
            f"than {MAX_SIDE:,} pixels."
        )


def shrink_factor(width: int, height: int) -> int:
    """The whole factor that brings width x height to at most DECODED_PIXELS (1: keep it)."""
    return max(1, math.ceil(math.sqrt(width * height / DECODED_PIXELS)))


@dataclass(frozen=True)
class OpenedImage:
    """An image whose header has passed the limits, with no pixel decoded yet."""

    image: ImageFile.ImageFile
    max_pixels: int
    size: tuple[int, int]  # as stored in the file, before any reduced-scale decoding


@dataclass(frozen=True)
class Decoded:
    """An upright RGB picture, and the size of the image as sent (upright too).

    The picture may have been shrunk; anything reported back to the client in pixels (boxes of
    detected objects or text) is meant in the image it sent, so it is scaled to ``size_as_sent``.
    """

    image: Image.Image
    size_as_sent: tuple[int, int]


def open_image(data: bytes, *, max_pixels: int) -> OpenedImage:
    """Read the header, refuse sizes over the limits, and let JPEG decode at a reduced scale."""
    image_format = sniff_format(data)
    with _refuse_undecodable(max_pixels):
        image = _OPENERS[image_format](io.BytesIO(data))
    width, height = image.size
    _check_size(width, height, max_pixels)
    factor = shrink_factor(width, height)
    if factor > 1 and image_format is ImageFormat.JPEG:
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding, never below the size asked for.
        with _refuse_undecodable(max_pixels):
            image.draft(None, (width // factor, height // factor))
    return OpenedImage(image, max_pixels, (width, height))


def finish_decode(opened: OpenedImage) -> Decoded:
    """Decode the first frame, shrink it, turn it upright and into RGB.

    Truncated files are refused rather than half-decoded because Pillow's LOAD_TRUNCATED_IMAGES
    is left at its default (False) and load() is called here, inside the error mapping.
    """
    image = opened.image
    with _refuse_undecodable(opened.max_pixels):
        image.load()
        orientation = image.getexif().get(_ORIENTATION_TAG)
        picture = _shrink(image)
        width, height = opened.size
        if orientation in _TRANSPOSITIONS:
            picture = picture.transpose(_TRANSPOSITIONS[orientation])
            if orientation >= 5:  # the transpositions that turn the picture on its side
                width, height = height, width
        return Decoded(_to_rgb(picture), (width, height))


def decode_with_size(data: bytes, *, max_pixels: int) -> Decoded:
    """Decode the first frame of an accepted image, upright, in RGB, within the limits."""
    return finish_decode(open_image(data, max_pixels=max_pixels))


def decode_image(data: bytes, *, max_pixels: int) -> Image.Image:
    """Just the picture of ``decode_with_size``, for callers that report nothing in pixels."""
    return decode_with_size(data, max_pixels=max_pixels).image


def decode_cost(data: bytes, *, max_pixels: int) -> int:
    """Pixels that decoding ``data`` holds at its peak, from the header alone (no big allocation).

    Refuses what ``open_image`` refuses. A JPEG counts at the scale it will be decoded at.
    """
    width, height = open_image(data, max_pixels=max_pixels).image.size
    return width * height


def _shrink(image: Image.Image) -> Image.Image:
    """Reduce by a whole factor (averaging boxes of pixels) in a mode that allows it.

    Pillow's reduce() works on neither palettes, 1-bit nor 16-bit images: those are widened first
    (16-bit to 32-bit "I", which ``_to_rgb`` then scales rather than clips).
    """
    factor = shrink_factor(*image.size)
    if factor == 1:
        return image
    if image.mode in _SIXTEEN_BIT_MODES:
        image = image.convert("I")
    elif image.mode in ("P", "PA"):
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    elif image.mode == "1":
        image = image.convert("L")
    return image.reduce(factor)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any mode the accepted formats produce to RGB the way a person would see it.

    Mode "I" only arises here from a 16-bit greyscale file, widened by ``_shrink``.
    """
    if image.mode in _SIXTEEN_BIT_MODES:
        image = image.convert("I")
    if image.mode == "I":
        # Pillow clips these to 8 bits instead of scaling them, which turns most pixels white.
        image = image.point(lambda value: value * (1 / 257)).convert("L")
    if image.has_transparency_data:
        # Transparent areas have arbitrary colours underneath; show them as a viewer would: white.
        rgba = image.convert("RGBA")
        flattened = Image.new("RGB", rgba.size, _WHITE)
        flattened.paste(rgba, mask=rgba)
        return flattened
    if image.mode == "RGB":
        return image
    return image.convert("RGB")


def content_hash(data: bytes) -> str:
    """A cache key that identifies the image by its bytes, whatever name or URL it came with."""
    return hashlib.sha256(data).hexdigest()
