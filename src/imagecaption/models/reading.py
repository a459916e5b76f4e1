"""The offline captioner's read stage beside a full captioning model.

GIT and BLIP describe a shop front but rarely spell its sign. With ``full_model_reads_text``,
every picture also goes through the reader (``offline/text.py``): its detector's check on a small
copy (a few milliseconds, beside a model that takes hundreds), then reading where that finds
lines; the words are quoted into the model's caption the way the offline captioner quotes them.
There are no cheaper cues to ask first here: a full model has no classifier to ask.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from imagecaption.models.base import (
    Candidate,
    Caption,
    Captioner,
    CaptionOptions,
    ModelInfo,
    TextLine,
)
from imagecaption.models.offline.compose.text import caption_with_text, lines_to_read
from imagecaption.models.offline.text import TextReader, load_reader

# The reader looks at a copy shrunk by a whole factor while its short side stays this long, as
# the offline captioner does: enough for the detector, and cheap to make.
READING_SIDE = 512


class TextReadingCaptioner(Captioner):
    """``inner``'s captions, with the words read in each picture quoted into them."""

    def __init__(self, inner: Captioner, threads: int) -> None:
        self._inner = inner
        self._threads = threads
        self._reader: TextReader | None = None

    @property
    def info(self) -> ModelInfo:
        reader = self._reader.name if self._reader else None
        return dataclasses.replace(self._inner.info, text_reader=reader)

    def load(self) -> None:
        self._inner.load()
        self._reader = load_reader(self._threads)

    def warmup(self) -> None:
        self._inner.warmup()

    def check_options(self, options: CaptionOptions) -> None:
        self._inner.check_options(options)

    def preprocess(self, image: Image.Image) -> _Prepared:
        return _Prepared(self._inner.preprocess(image), _reading_copy(image))

    def caption_batch(
        self, images: Sequence[Image.Image], options: CaptionOptions
    ) -> list[Caption]:
        return self.caption_prepared([self.preprocess(image) for image in images], options)

    def caption_prepared(self, inputs: Sequence[Any], options: CaptionOptions) -> list[Caption]:
        prepared: list[_Prepared] = list(inputs)
        captions = self._inner.caption_prepared([item.model_input for item in prepared], options)
        if self._reader is None or not options.read_text:
            return captions
        reader = self._reader
        choose = None if options.every_line else lines_to_read
        return [
            _quoted(caption, reader.look(item.rgb, choose), options)
            for caption, item in zip(captions, prepared, strict=True)
        ]


@dataclass(frozen=True)
class _Prepared:
    model_input: Any
    rgb: Image.Image


def _quoted(caption: Caption, lines: tuple[TextLine, ...], options: CaptionOptions) -> Caption:
    limit = options.max_length
    return dataclasses.replace(
        caption,
        text=caption_with_text(caption.text, lines, limit),
        candidates=tuple(
            Candidate(caption_with_text(candidate.text, lines, limit), candidate.score)
            for candidate in caption.candidates
        ),
        text_lines=lines,
    )


def _reading_copy(image: Image.Image) -> Image.Image:
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    factor = min(rgb.size) // READING_SIDE
    return rgb.reduce(factor) if factor > 1 else rgb
