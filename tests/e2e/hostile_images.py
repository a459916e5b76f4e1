"""Hostile images built on the spot: extreme shapes, many frames, huge metadata, polyglots.

The extreme shapes are written by hand (PNG chunks, BMP run-length codes) because asking Pillow
to build a 40-megapixel picture first would cost the test process the very memory under test;
written directly, each is a few hundred kilobytes and takes well under a second.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GREY, RGB, GREY_ALPHA, RGBA = 0, 2, 4, 6
_CHANNELS = {GREY: 1, RGB: 3, GREY_ALPHA: 2, RGBA: 4}


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def flat_png(
    width: int, height: int, *, colour_type: int = GREY, bit_depth: int = 8, tag: bytes = b""
) -> bytes:
    """A PNG of one flat colour, compressed row by row without building the picture.

    ``tag`` goes into a text chunk, so copies that decode alike still differ byte for byte
    (the server caches by content hash, and a memory test must not be answered from the cache).
    """
    row = b"\x00" + bytes([0x55]) * (width * _CHANNELS[colour_type] * bit_depth // 8)
    compressor = zlib.compressobj(9)
    rows_per_piece = max(1, (1 << 20) // len(row))
    piece = row * rows_per_piece
    parts = []
    done = 0
    while done < height:
        count = min(rows_per_piece, height - done)
        parts.append(compressor.compress(piece if count == rows_per_piece else row * count))
        done += count
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"".join(
        [
            PNG_SIGNATURE,
            png_chunk(b"IHDR", header),
            png_chunk(b"tEXt", b"Comment\x00" + tag) if tag else b"",
            png_chunk(b"IDAT", b"".join(parts)),
            png_chunk(b"IEND", b""),
        ]
    )


def rle_bmp(width: int, height: int) -> bytes:
    """An 8-bit run-length-encoded BMP of one colour: 40 megapixels in about 300 KB."""
    row = bytearray()
    left = width
    while left:
        run = min(left, 255)
        row += bytes([run, 1])
        left -= run
    row += b"\x00\x00"  # end of line
    pixels = bytes(row) * height + b"\x00\x01"  # end of bitmap
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    head = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    return head + info + palette + pixels


def pillow_encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


@dataclass(frozen=True)
class WorstCase:
    """One shape of image near every limit at once, built anew with a tag per copy."""

    name: str
    build: Callable[[int], bytes]


def _jpeg(tag: int) -> bytes:
    return pillow_encoded(Image.new("RGB", (6320, 6320), (tag % 256, 90, 160)), "JPEG", quality=50)


def _gif(tag: int) -> bytes:
    return pillow_encoded(Image.new("P", (6320, 6320), tag % 256), "GIF")


def _webp(tag: int) -> bytes:
    return pillow_encoded(
        Image.new("RGBA", (16383, 2441), (tag % 256, 9, 9, 128)), "WEBP", lossless=True
    )


def _bmp(tag: int) -> bytes:
    data = bytearray(rle_bmp(6320, 6320))
    data[6:10] = struct.pack("<I", tag)  # reserved header bytes: different file, same picture
    return bytes(data)


# Every case is within the default limits (40 megapixels, 5 MB), so only its shape, mode or
# format decides what it costs to decode.
WORST_CASES: dict[str, WorstCase] = {
    case.name: case
    for case in (
        WorstCase("PNG 1 x 40,000,000 grey", lambda tag: flat_png(1, 40_000_000, tag=b"%d" % tag)),
        WorstCase("PNG 40,000,000 x 1 grey", lambda tag: flat_png(40_000_000, 1, tag=b"%d" % tag)),
        WorstCase("PNG 610 x 65,535 grey", lambda tag: flat_png(610, 65_535, tag=b"%d" % tag)),
        WorstCase(
            "PNG 6,324 x 6,324 RGBA",
            lambda tag: flat_png(6324, 6324, colour_type=RGBA, tag=b"%d" % tag),
        ),
        WorstCase(
            "PNG 6,324 x 6,324 16-bit grey",
            lambda tag: flat_png(6324, 6324, bit_depth=16, tag=b"%d" % tag),
        ),
        WorstCase("JPEG 6,320 x 6,320", _jpeg),
        WorstCase("GIF 6,320 x 6,320", _gif),
        WorstCase("BMP RLE 6,320 x 6,320", _bmp),
        WorstCase("WEBP 16,383 x 2,441 RGBA", _webp),
    )
}
