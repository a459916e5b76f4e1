"""Decoding hostile and unusual images: every failure a clear 400, every odd mode a proper RGB."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image, ImageFile

from imagecaption.errors import BadInput
from imagecaption.images import content_hash, decode_image
from imagecaption.images.decode import decode_cost, decode_with_size

LIMIT = 40_000_000
CORRUPT = "The image could not be decoded: it is corrupt or truncated."
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def noise(width: int, height: int) -> Image.Image:
    """Incompressible pixels, so that cutting the file really cuts pixel data."""
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8))


def close(actual: object, expected: tuple[int, ...], tolerance: int = 8) -> bool:
    """JPEG and WEBP are lossy, so colours are compared with some slack."""
    assert isinstance(actual, tuple), actual
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny real PNG whose header is rewritten to claim another size (with a valid CRC)."""
    data = bytearray(encode(Image.new("1", (8, 8)), "PNG"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(data[12:29]))
    return bytes(data)


def gif_with_screen(width: int, height: int) -> bytes:
    data = bytearray(encode(Image.new("P", (8, 8)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def gif_with_first_frame(width: int, height: int) -> bytes:
    """A GIF whose first frame is far larger than its logical screen."""
    data = bytearray(encode(Image.new("P", (8, 8)), "GIF"))
    position = 13
    if data[10] & 0x80:  # global colour table
        position += 3 * 2 ** ((data[10] & 0x07) + 1)
    while data[position] == 0x21:  # extension blocks: label, then sub-blocks until a zero length
        position += 2
        while data[position]:
            position += data[position] + 1
        position += 1
    assert data[position] == 0x2C
    data[position + 5 : position + 9] = struct.pack("<HH", width, height)
    return bytes(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP"])
def test_every_format_decodes_to_rgb(fmt: str) -> None:
    decoded = decode_image(encode(Image.new("RGB", (20, 10), RED), fmt), max_pixels=LIMIT)
    assert decoded.mode == "RGB"
    assert decoded.size == (20, 10)
    assert close(decoded.getpixel((5, 5)), RED)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty", b"", "The image is empty."),
        ("text named .jpg", b"just text\n" * 20, "Accepted types: JPEG, PNG, GIF, WEBP, BMP"),
        ("jpeg header only", b"\xff\xd8\xff\xe0" + bytes(20), CORRUPT),
        ("png signature only", b"\x89PNG\r\n\x1a\n", CORRUPT),
        ("png with garbage", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, CORRUPT),
        ("gif header only", b"GIF89a", CORRUPT),
        ("webp header only", b"RIFF\x10\x00\x00\x00WEBPVP8 ", CORRUPT),
        ("bmp header only", b"BM" + bytes(12) + b"\x28" + bytes(3), CORRUPT),
    ],
)
def test_unusable_bytes_are_bad_input(name: str, data: bytes, message: str) -> None:
    with pytest.raises(BadInput) as caught:
        decode_image(data, max_pixels=LIMIT)
    assert message in caught.value.message


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_truncated_files_are_refused_not_half_decoded(fmt: str) -> None:
    whole = encode(noise(300, 200), fmt)
    for cut in (len(whole) // 3, len(whole) * 2 // 3):
        with pytest.raises(BadInput, match=CORRUPT):
            decode_image(whole[:cut], max_pixels=LIMIT)


def test_decompression_bomb_is_refused_from_the_header_alone() -> None:
    """The header claims 400 megapixels; the pixel data (8x8) would not even match, so any
    attempt to decode would fail as corrupt: the size message proves nothing was decoded."""
    with pytest.raises(BadInput) as caught:
        decode_image(png_claiming(20_000, 20_000), max_pixels=LIMIT)
    assert caught.value.message == "The image is too large: 400 megapixels, the limit is 40."


def test_real_one_bit_bomb_weighs_kilobytes_and_is_refused() -> None:
    bomb = encode(Image.new("1", (8_000, 6_000)), "PNG", optimize=True)
    assert len(bomb) < 20_000
    with pytest.raises(BadInput, match="48 megapixels, the limit is 40"):
        decode_image(bomb, max_pixels=LIMIT)


def test_gif_with_a_huge_logical_screen_is_refused() -> None:
    with pytest.raises(BadInput, match=r"4294\.8 megapixels, the limit is 40\."):
        decode_image(gif_with_screen(65_535, 65_535), max_pixels=LIMIT)


def test_gif_frame_larger_than_its_screen_is_refused() -> None:
    """Pillow grows the canvas to the frame and applies its own bomb check; that is a 400 too."""
    with pytest.raises(BadInput, match="The image is too large"):
        decode_image(gif_with_first_frame(65_535, 65_535), max_pixels=LIMIT)


def test_pixel_limit_is_the_callers() -> None:
    image = encode(Image.new("RGB", (200, 200), RED), "PNG")
    assert decode_image(image, max_pixels=40_000).size == (200, 200)
    with pytest.raises(BadInput, match=r"0\.04 megapixels, the limit is 0\.04\b"):
        decode_image(image, max_pixels=39_999)


def test_exif_orientation_is_applied() -> None:
    """Stored 20x10 with red on the left; orientation 6 means "rotate 90 degrees clockwise to
    view", which puts red on top of a 10x20 picture."""
    stored = Image.new("RGB", (20, 10), BLUE)
    stored.paste(RED, (0, 0, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = decode_image(encode(stored, "JPEG", exif=exif, quality=95), max_pixels=LIMIT)
    assert decoded.size == (10, 20)
    assert close(decoded.getpixel((5, 3)), RED)
    assert close(decoded.getpixel((5, 16)), BLUE)


def test_cmyk_jpeg() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # no cyan, full magenta and yellow: red
    decoded = decode_image(encode(cmyk, "JPEG", quality=95), max_pixels=LIMIT)
    assert close(decoded.getpixel((8, 8)), RED)


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparency_is_composited_on_white(fmt: str) -> None:
    image = Image.new("P", (16, 16), 0)
    image.putpalette([0, 0, 0, *RED])
    image.paste(1, (8, 0, 16, 16))
    decoded = decode_image(encode(image, fmt, transparency=0), max_pixels=LIMIT)
    assert decoded.getpixel((2, 8)) == WHITE  # transparent black shows as white
    assert decoded.getpixel((12, 8)) == RED


def test_sixteen_bit_greyscale_is_scaled_not_clipped() -> None:
    levels = np.array([[0, 257 * 64, 257 * 128, 65535]], dtype=np.uint16)
    image = Image.fromarray(levels)
    assert image.mode == "I;16"
    decoded = decode_image(encode(image, "PNG"), max_pixels=LIMIT)
    assert [decoded.getpixel((x, 0)) for x in range(4)] == [
        (0, 0, 0),
        (64, 64, 64),
        (128, 128, 128),
        (255, 255, 255),
    ]


@pytest.mark.parametrize(
    ("image", "fmt", "expected"),
    [
        (Image.new("LA", (4, 4), (40, 0)), "PNG", WHITE),
        (Image.new("LA", (4, 4), (40, 255)), "PNG", (40, 40, 40)),
        (Image.new("RGBA", (4, 4), (0, 0, 0, 0)), "PNG", WHITE),
        (Image.new("RGBA", (4, 4), (0, 0, 255, 255)), "PNG", BLUE),
        (Image.new("RGBA", (4, 4), (0, 0, 0, 128)), "PNG", (127, 127, 127)),
        (Image.new("RGBA", (4, 4), (0, 0, 0, 0)), "WEBP", WHITE),
        (Image.new("L", (4, 4), 77), "PNG", (77, 77, 77)),
        (Image.new("L", (4, 4), 77), "JPEG", (77, 77, 77)),
        (Image.new("1", (4, 4), 1), "PNG", WHITE),
        (Image.new("1", (4, 4), 0), "BMP", (0, 0, 0)),
        (Image.new("RGB", (4, 4), RED).convert("YCbCr"), "JPEG", RED),
    ],
    ids=lambda value: value.mode if isinstance(value, Image.Image) else None,
)
def test_modes_become_rgb_with_the_right_colours(
    image: Image.Image, fmt: str, expected: tuple[int, int, int]
) -> None:
    params = {"lossless": True} if fmt == "WEBP" else {}
    decoded = decode_image(encode(image, fmt, **params), max_pixels=LIMIT)
    assert decoded.mode == "RGB"
    assert close(decoded.getpixel((1, 1)), expected, tolerance=2)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_is_captioned_from_its_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, BLUE, BLUE)]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    decoded = decode_image(buffer.getvalue(), max_pixels=LIMIT)
    assert decoded.size == (16, 16)
    assert close(decoded.getpixel((8, 8)), RED)


def test_decoding_in_threads_leaves_pillow_settings_alone() -> None:
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    good = encode(noise(64, 64), "PNG")
    inputs = [good, png_claiming(20_000, 20_000), good[:300], gif_with_screen(65_535, 65_535)] * 8

    def outcome(data: bytes) -> str:
        try:
            return decode_image(data, max_pixels=LIMIT).mode
        except BadInput as error:
            return error.message.split(":")[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(outcome, inputs))
    assert (
        results
        == [
            "RGB",
            "The image is too large",
            "The image could not be decoded",
            "The image is too large",
        ]
        * 8
    )
    assert before == (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)


def test_content_hash_is_sha256_of_the_bytes() -> None:
    assert content_hash(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert content_hash(b"abc") != content_hash(b"abd")


def test_a_side_longer_than_65535_is_refused_from_the_header() -> None:
    """1 x 40,000,000 is within the pixel limit but cost 800 MB to decode (a row each)."""
    with pytest.raises(BadInput) as caught:
        decode_image(png_claiming(1, 40_000_000), max_pixels=LIMIT)
    assert caught.value.message == (
        "The image is too long and thin: 1 x 40000000 pixels; no side may be longer than "
        "65,535 pixels."
    )
    with pytest.raises(BadInput, match="too long and thin"):
        decode_image(png_claiming(65_536, 1), max_pixels=LIMIT)


def test_a_pixel_count_just_over_the_limit_says_by_how_much() -> None:
    with pytest.raises(BadInput, match=r"40\.005625 megapixels, the limit is 40\."):
        decode_image(png_claiming(6325, 6325), max_pixels=LIMIT)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((2048, 2048), (2048, 2048)),  # at the bound: kept as it is
        ((4096, 3072), (2048, 1536)),
        ((6000, 4000), (2000, 1334)),
        ((30_000, 600), (10_000, 200)),
        ((20_000, 2), (20_000, 2)),
    ],
)
def test_large_images_are_shrunk_by_a_whole_factor_to_at_most_4_megapixels(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    decoded = decode_image(encode(Image.new("RGB", size, RED), "PNG"), max_pixels=LIMIT)
    assert decoded.size == expected
    assert decoded.getpixel((0, 0)) == RED


def test_a_large_jpeg_is_decoded_at_a_reduced_scale() -> None:
    """libjpeg scales while decoding, so decoding costs the reduced size, not the full one."""
    data = encode(noise(4096, 3072), "JPEG")
    assert decode_cost(data, max_pixels=LIMIT) == 2048 * 1536
    assert decode_image(data, max_pixels=LIMIT).size == (2048, 1536)
    png = encode(Image.new("RGB", (4096, 3072)), "PNG")
    assert decode_cost(png, max_pixels=LIMIT) == 4096 * 3072


def test_orientation_is_applied_after_shrinking() -> None:
    stored = Image.new("RGB", (4096, 2048), BLUE)
    stored.paste(RED, (0, 0, 2048, 2048))
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = decode_image(encode(stored, "JPEG", exif=exif, quality=95), max_pixels=LIMIT)
    assert decoded.size == (1024, 2048)
    assert close(decoded.getpixel((512, 300)), RED)
    assert close(decoded.getpixel((512, 1700)), BLUE)


def test_shrinking_keeps_sixteen_bit_levels_and_transparency() -> None:
    grey = Image.fromarray(np.full((3000, 3000), 257 * 64, dtype=np.uint16))
    decoded = decode_image(encode(grey, "PNG"), max_pixels=LIMIT)
    assert decoded.size == (1500, 1500)
    assert decoded.getpixel((10, 10)) == (64, 64, 64)
    palette = Image.new("P", (3000, 3000), 0)
    palette.putpalette([0, 0, 0, *RED])
    palette.paste(1, (1500, 0, 3000, 3000))
    decoded = decode_image(encode(palette, "PNG", transparency=0), max_pixels=LIMIT)
    assert decoded.size == (1500, 1500)
    assert decoded.getpixel((100, 100)) == WHITE
    assert decoded.getpixel((1400, 100)) == RED


def test_the_size_as_sent_is_kept_upright_when_the_picture_is_shrunk() -> None:
    """Boxes reported back in pixels refer to the image the client sent, not to the copy."""
    stored = Image.new("RGB", (4096, 2048), BLUE)
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = decode_with_size(encode(stored, "JPEG", exif=exif), max_pixels=LIMIT)
    assert decoded.image.size == (1024, 2048)
    assert decoded.size_as_sent == (2048, 4096)
    small = decode_with_size(encode(Image.new("RGB", (30, 20)), "PNG"), max_pixels=LIMIT)
    assert small.size_as_sent == small.image.size == (30, 20)
