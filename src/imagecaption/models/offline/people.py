"""Who is in the picture, decided from detected faces: how many people, and how close."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imagecaption.models.offline.faces import Face

# Faces much smaller than the largest one belong to passers-by in the background, not the subject.
RELATIVE_SIZE = 0.33
# A single face this tall (as a fraction of the image) makes the photo a portrait.
PORTRAIT_HEIGHT = 0.25
# The upper body around the largest face, in face widths sideways and face heights up and down:
# what that person wears or holds is there, and the classifier's centre crop often misses it.
BODY_SIDEWAYS = 1.5
BODY_ABOVE = 0.5
BODY_BELOW = 3.0

COUNTS = {1: "a person", 2: "two people", 3: "three people"}
MANY = "a group of people"


@dataclass(frozen=True)
class People:
    """How many people a caption should mention, and the face of the one it describes."""

    count: int
    portrait: bool
    score: float
    main: Face

    @property
    def noun_phrase(self) -> str:
        return COUNTS.get(self.count, MANY)


def find_people(faces: Sequence[Face]) -> People | None:
    """Summarise the faces worth mentioning, or None when there are none."""
    if not faces:
        return None
    main = max(faces, key=lambda face: face.height)
    counted = [face for face in faces if face.height >= RELATIVE_SIZE * main.height]
    return People(
        count=len(counted),
        portrait=len(counted) == 1 and main.height >= PORTRAIT_HEIGHT,
        score=max(face.score for face in counted),
        main=main,
    )


def body_region(face: Face, width: int, height: int) -> tuple[float, float, float, float]:
    """The upper body under ``face``, in pixels of a ``width`` x ``height`` image, clipped to it."""
    face_width = (face.right - face.left) * width
    face_height = face.height * height
    left = face.left * width - BODY_SIDEWAYS * face_width
    right = face.right * width + BODY_SIDEWAYS * face_width
    top = face.top * height - BODY_ABOVE * face_height
    bottom = face.bottom * height + BODY_BELOW * face_height
    # Keep at least a pixel inside the image so that a degenerate face box still gives a crop.
    left = min(max(0.0, left), width - 1.0)
    top = min(max(0.0, top), height - 1.0)
    right = max(min(float(width), right), left + 1.0)
    bottom = max(min(float(height), bottom), top + 1.0)
    return left, top, right, bottom
