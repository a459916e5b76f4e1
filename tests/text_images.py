"""Pictures with known words in them, drawn with Pillow's own TrueType font."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

INK = (20, 20, 20)
PAPER = (245, 245, 240)


def lettering(
    text: str,
    size: int,
    *,
    angle: float = 0.0,
    canvas: tuple[int, int] = (640, 480),
    ink: tuple[int, int, int] = INK,
    paper: tuple[int, int, int] = PAPER,
) -> Image.Image:
    """``text`` in letters ``size`` pixels high, centred on a plain canvas, turned by ``angle``
    degrees counter-clockwise."""
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text)
    margin = size // 2
    layer = Image.new("RGBA", (right - left + 2 * margin, bottom - top + 2 * margin), (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((margin - left, margin - top), text, font=font, fill=(*ink, 255))
    layer = layer.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    picture = Image.new("RGB", canvas, paper)
    picture.paste(layer, ((canvas[0] - layer.width) // 2, (canvas[1] - layer.height) // 2), layer)
    return picture


def sign_on(photo: Image.Image, text: str, *, share: float = 0.6) -> Image.Image:
    """``photo`` with a white board carrying ``text`` in its middle, ``share`` of its width."""
    picture = photo.convert("RGB")
    width = round(picture.width * share)
    size = max(12, width // max(len(text), 1) * 3 // 2)
    board = lettering(text, size, canvas=(width, size * 2), paper=(255, 255, 255))
    picture.paste(board, ((picture.width - width) // 2, (picture.height - board.height) // 2))
    return picture


def page(lines: list[str], size: int = 18, canvas: tuple[int, int] = (640, 480)) -> Image.Image:
    """Lines of print from the top left of a sheet, as a scanned page."""
    font = ImageFont.load_default(size=size)
    picture = Image.new("RGB", canvas, PAPER)
    draw = ImageDraw.Draw(picture)
    for index, line in enumerate(lines):
        draw.text((40, 40 + index * round(size * 1.6)), line, font=font, fill=INK)
    return picture
