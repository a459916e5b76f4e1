"""The reading benchmark's pictures and what they say (``references.toml`` beside this file).

Corpus pictures are the quality corpus's (``benchmarks/quality``); drawn ones are made here with
``tests/text_images.py``. Each is given to the readers as the offline captioner gives it to its
read stage: RGB, a big photo shrunk by a whole factor (``_working_copy``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tests.conftest import photo
from tests.text_images import lettering, page, sign_on

from benchmarks.quality.photos import photo as corpus_photo
from imagecaption.models.offline.captioner import _working_copy

REFERENCES = Path(__file__).with_name("references.toml")

DRAWN: dict[str, Callable[[], Image.Image]] = {
    "open_24_hours": lambda: lettering("OPEN 24 HOURS", 48),
    "fresh_bread_turned": lambda: lettering("Fresh Bread Daily", 40, angle=20),
    "launch_pad_sign": lambda: sign_on(photo("rocket"), "Launch Pad 39A", share=0.7),
    "genesis_page": lambda: page(
        ["In the beginning God created the heaven", "and the earth. And the earth was"] * 4
    ),
}


@dataclass(frozen=True)
class Picture:
    id: str
    image: Image.Image
    truth: tuple[str, ...]


def load_pictures(only: set[str] | None = None) -> list[Picture]:
    """Every picture of ``references.toml`` (or those named in ``only``), in its order."""
    with REFERENCES.open("rb") as file:
        entries = tomllib.load(file)["pictures"]
    pictures = []
    for entry in entries:
        if only and entry["id"] not in only:
            continue
        image = DRAWN[entry["id"]]() if entry["source"] == "drawn" else corpus_photo(entry["id"])
        pictures.append(Picture(entry["id"], _working_copy(image), tuple(entry["lines"])))
    return pictures
