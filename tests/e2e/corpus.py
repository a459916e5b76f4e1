"""The hostile-input corpus: files a stranger might send, each with the answer it must get.

Every case is sent both as a multipart upload and as JSON base64 (see test_hostile_corpus.py);
the status is the contract, the fragment words the message must contain (one of them, when
separated by "|"), so that a refusal for the wrong reason does not pass.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

from tests.e2e.hostile_images import (
    PNG_SIGNATURE,
    flat_png,
    pillow_encoded,
    png_chunk,
)

FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")


@dataclass(frozen=True)
class Case:
    """``build`` makes the file when a test needs it, so collecting the tests costs nothing."""

    name: str
    build: Callable[[], bytes]
    status: int
    fragment: str = ""


def textured(width: int = 96, height: int = 64) -> Image.Image:
    """Noise, so that every cut of the file really cuts pixel data."""
    pixels = np.random.default_rng(7).integers(0, 256, (height, width, 3), np.uint8)
    return Image.fromarray(pixels)


@cache
def whole_file(fmt: str) -> bytes:
    image = textured()
    return pillow_encoded(image.convert("P") if fmt == "GIF" else image, fmt)


def truncated_cases() -> list[Case]:
    """Every format cut at its header, at a third, at two thirds and one byte short."""
    cases = []
    for fmt in FORMATS:
        whole = whole_file(fmt)
        cuts = {"header only": 30, "a third": len(whole) // 3, "two thirds": len(whole) * 2 // 3}
        for label, cut in cuts.items():
            cases.append(
                Case(
                    f"{fmt} cut at {label}",
                    lambda whole=whole, cut=cut: whole[:cut],
                    400,
                    "corrupt or truncated",
                )
            )
    # One byte short, or without the end marker: refused where the pixel data is incomplete.
    cases += [
        Case("JPEG without its end marker", lambda: whole_file("JPEG")[:-2], 400, "truncated"),
        # Only the end marker is missing and every pixel is there: shown as a viewer shows it.
        Case("PNG without IEND", lambda: whole_file("PNG")[:-12], 200),
        Case("GIF without its trailer byte", lambda: whole_file("GIF")[:-1], 200),
        Case("WEBP one byte short", lambda: whole_file("WEBP")[:-1], 400, "truncated"),
        Case("BMP one byte short", lambda: whole_file("BMP")[:-1], 400, "truncated"),
    ]
    return cases


def _zip_archive() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.jsp", "<% Runtime.getRuntime().exec(request.getParameter(x)); %>")
    return buffer.getvalue()


def polyglot_cases() -> list[Case]:
    jpeg, png = whole_file("JPEG"), whole_file("PNG")
    html = b"<html><script>alert(document.cookie)</script></html>"
    gif_js = b"GIF89a/*" + b"\x00" * 8 + b"*/=1;alert(1);//" + b"\x00" * 32
    return [
        # Valid images that are something else as well: captioned, as a viewer would show them.
        Case("JPEG with a ZIP archive after it", lambda: jpeg + _zip_archive(), 200),
        Case("PNG with HTML after IEND", lambda: png + html, 200),
        Case("PNG with a script in a text chunk", lambda: _png_with_chunk(png, b"tEXt", html), 200),
        # Not images at all, whatever they start with.
        Case("GIF header that is JavaScript", lambda: gif_js, 400, "corrupt or truncated"),
        Case("HTML with a JPEG inside", lambda: html + jpeg, 400, "accepted types"),
        Case("PDF with a PNG inside", lambda: b"%PDF-1.4\n" + png, 400, "accepted types"),
        Case(
            "PNG signature before JPEG data",
            lambda: PNG_SIGNATURE + jpeg,
            400,
            "corrupt or truncated",
        ),
        Case("SVG with a script", lambda: b'<svg onload="alert(1)"/>', 400, "accepted types"),
    ]


def _png_with_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """Insert a chunk right after IHDR (8-byte signature + 25-byte IHDR chunk)."""
    return png[:33] + png_chunk(kind, data) + png[33:]


def shape_cases() -> list[Case]:
    return [
        Case("PNG 1 x 40,000,000", lambda: flat_png(1, 40_000_000), 400, "long and thin"),
        Case("PNG 40,000,000 x 1", lambda: flat_png(40_000_000, 1), 400, "long and thin"),
        Case("PNG 65,536 x 1", lambda: flat_png(65_536, 1), 400, "long and thin"),
        Case("PNG 65,535 x 1", lambda: flat_png(65_535, 1), 200),
        Case("PNG 610 x 65,535", lambda: flat_png(610, 65_535), 200),
        Case("PNG 20,000 x 2", lambda: flat_png(20_000, 2), 200),
        Case("PNG 1 x 1", lambda: flat_png(1, 1), 200),
        Case(
            "PNG 6,325 x 6,325 (40.005 megapixels)", lambda: flat_png(6325, 6325), 400, "megapixels"
        ),
        Case("GIF 65,535 x 65,535 screen", lambda: _gif_screen(65_535, 65_535), 400, "megapixels"),
    ]


def _gif_screen(width: int, height: int) -> bytes:
    data = bytearray(pillow_encoded(Image.new("P", (8, 8)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def _animation(fmt: str, frames: int, size: tuple[int, int] = (64, 48)) -> bytes:
    images = [Image.new("RGB", size, (i % 256, (i * 7) % 256, 90)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, fmt, save_all=True, append_images=images[1:], duration=20, loop=0)
    return buffer.getvalue()


def animation_cases() -> list[Case]:
    return [
        Case("GIF with 2,000 frames", lambda: _animation("GIF", 2000), 200),
        Case("WEBP with 1,000 frames", lambda: _animation("WEBP", 1000), 200),
        Case("APNG with 1,000 frames", lambda: _animation("PNG", 1000), 200),
    ]


def _jpeg_with_segments(count: int, size: int) -> bytes:
    """A JPEG carrying ``count`` application segments of ``size`` bytes before its image."""
    jpeg = whole_file("JPEG")
    segment = b"\xff\xe9" + struct.pack(">H", size + 2) + b"M" * size
    return jpeg[:2] + segment * count + jpeg[2:]


def _exif_with_entries(count: int) -> bytes:
    """An EXIF block with ``count`` IFD entries, most of them nonsense tags."""
    entries = b"".join(struct.pack("<HHII", 0x9000 + i % 4000, 7, 4, i) for i in range(count))
    ifd = struct.pack("<H", count) + entries + struct.pack("<I", 0)
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd


def malformed_exif() -> bytes:
    """A JPEG whose EXIF names a description of 100,000 bytes that is not there."""
    entries = struct.pack("<HHII", 0x0112, 3, 1, 1) + struct.pack("<HHII", 0x010E, 2, 100_000, 4096)
    ifd = struct.pack("<H", 2) + entries + struct.pack("<I", 0)
    exif = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd
    return pillow_encoded(textured(), "JPEG", exif=exif)


def _png_text_bomb() -> bytes:
    """A zTXt chunk of 100 KB that inflates to 100 MB (Pillow stops at 1 MB)."""
    compressor = zlib.compressobj(9)
    block = bytes(1 << 20)
    compressed = b"".join(compressor.compress(block) for _ in range(100)) + compressor.flush()
    chunk = png_chunk(b"zTXt", b"Comment\x00\x00" + compressed)
    return _png_with_chunk(whole_file("PNG"), b"zTXt", chunk[8:-4])


def _png_with_text_chunks(count: int) -> bytes:
    png = whole_file("PNG")
    chunks = b"".join(png_chunk(b"tEXt", b"k%d\x00" % i + b"v" * 1000) for i in range(count))
    return png[:33] + chunks + png[33:]


def metadata_cases() -> list[Case]:
    return [
        Case("JPEG with 60 segments of 64 KB", lambda: _jpeg_with_segments(60, 65_000), 200),
        Case(
            "JPEG with 5,000 EXIF entries",
            lambda: pillow_encoded(textured(), "JPEG", exif=_exif_with_entries(5000)),
            200,
        ),
        Case("JPEG with a malformed EXIF tag", lambda: malformed_exif(), 200),
        Case(
            "JPEG with a 1 MB ICC profile",
            lambda: pillow_encoded(textured(), "JPEG", icc_profile=b"\x00" * (1 << 20)),
            200,
        ),
        Case("PNG with 3,000 text chunks", lambda: _png_with_text_chunks(3000), 200),
        Case("PNG with a zTXt bomb", lambda: _png_text_bomb(), 400, "corrupt"),
    ]


def corpus() -> list[Case]:
    return [
        *truncated_cases(),
        *polyglot_cases(),
        *shape_cases(),
        *animation_cases(),
        *metadata_cases(),
        Case("empty", lambda: b"", 400, "empty|no image was sent"),
        Case("one byte", lambda: b"\xff", 400, "accepted types"),
        Case("JPEG magic alone", lambda: b"\xff\xd8\xff", 400, "corrupt or truncated"),
    ]
