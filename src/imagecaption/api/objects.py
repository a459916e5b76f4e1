"""Detected objects as ``details=true`` shows them: boxes in pixels of the image as sent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from imagecaption.models.base import DetectedObject


def objects_in_pixels(
    objects: Sequence[DetectedObject], width: int, height: int
) -> list[dict[str, Any]]:
    """``{label, score, box: {x, y, w, h}}`` per object, as Azure's image analysis shapes them.

    Models report fractions of the image, so that the boxes do not depend on the size they
    looked at; users want pixels of the (EXIF-rotated) image they sent.
    """
    shown = []
    for found in objects:
        left, top, right, bottom = found.box
        x, y = round(left * width), round(top * height)
        shown.append(
            {
                "label": found.label,
                "score": round(found.score, 4),
                "box": {
                    "x": x,
                    "y": y,
                    "w": max(0, round(right * width) - x),
                    "h": max(0, round(bottom * height) - y),
                },
            }
        )
    return shown
