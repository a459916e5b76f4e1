"""Detected objects, text and tags as ``details=true`` shows them: boxes in pixels of the image
as sent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from imagecaption.models.base import DetectedObject, Tag, TextLine


def objects_in_pixels(
    objects: Sequence[DetectedObject], width: int, height: int
) -> list[dict[str, Any]]:
    """``{label, score, box: {x, y, w, h}}`` per object, as Azure's image analysis shapes them.

    Models report fractions of the image, so that the boxes do not depend on the size they
    looked at; users want pixels of the (EXIF-rotated) image they sent.
    """
    return [
        {
            "label": found.label,
            "score": round(found.score, 4),
            "box": _pixels(found.box, width, height),
        }
        for found in objects
    ]


def text_in_pixels(lines: Sequence[TextLine], width: int, height: int) -> list[dict[str, Any]]:
    """``{text, score, box: {x, y, w, h}}`` per line read, in reading order, boxed like the
    objects."""
    return [
        {"text": line.text, "score": round(line.score, 4), "box": _pixels(line.box, width, height)}
        for line in lines
    ]


def tags_as_listed(tags: Sequence[Tag]) -> list[dict[str, Any]]:
    """``{name, score}`` per tag, likeliest first, as Azure's image analysis lists tags."""
    return [{"name": tag.name, "score": round(tag.score, 4)} for tag in tags]


def _pixels(box: tuple[float, float, float, float], width: int, height: int) -> dict[str, int]:
    left, top, right, bottom = box
    x, y = round(left * width), round(top * height)
    return {
        "x": x,
        "y": y,
        "w": max(0, round(right * width) - x),
        "h": max(0, round(bottom * height) - y),
    }
