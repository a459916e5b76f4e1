"""The interface every captioning backend offers the engine, and nothing more.

Adding a backend means one new module in this package and one entry in ``registry.py``; the API
layer and the engine never know which backend serves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image

from imagecaption.errors import BadInput

Detail = Literal["brief", "detailed", "more_detailed"]


class ModelError(RuntimeError):
    """A model that cannot be served (missing, incomplete, broken); the message says why and what
    to do, and is shown to the operator as it is."""


@dataclass(frozen=True)
class CaptionOptions:
    """Per-request options; part of the cache key, so keep them hashable."""

    max_length: int | None = None
    num_captions: int = 1
    detail: Detail | None = None
    read_text: bool = True
    """Whether words seen in the picture are read into the caption, where the model can read."""
    every_line: bool = False
    """Whether every line of text in the picture is read (``details`` lists them all), rather than
    only those the caption can quote: reading costs time for every line recognised."""
    lang: str = "en"
    """The caption's language as a BCP 47 tag the model listed in ``ModelInfo.languages``; the API
    layer negotiates it (``lang``, else ``Accept-Language``, else English) before queueing."""


@dataclass(frozen=True)
class Candidate:
    text: str
    score: float


@dataclass(frozen=True)
class DetectedObject:
    """A thing a model found in the image: its label, how sure it is, and where, as (left, top,
    right, bottom) fractions of the image's width and height, so that it holds whatever size
    the model looked at."""

    label: str
    score: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class TextLine:
    """A line of text read in the image: the words kept (low-confidence ones are left out), how
    sure the reader is of them, and where, as (left, top, right, bottom) fractions of the image's
    width and height like ``DetectedObject.box``."""

    text: str
    score: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class Tag:
    """A thing, setting or activity the model found, as the hosted vision APIs tag pictures
    beside their captions: a word or short phrase and how likely it is there, from 0 to 1."""

    name: str
    score: float


@dataclass(frozen=True)
class Caption:
    """One image's result: the sentence, and alternatives with scores when asked for.

    ``objects`` is None for models that do not detect objects, and ``text_lines`` None where no
    text was looked for (reading off, or no reader installed), so ``details`` can leave a field
    out rather than claim that nothing was found.
    """

    text: str
    score: float | None = None
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)
    objects: tuple[DetectedObject, ...] | None = None
    text_lines: tuple[TextLine, ...] | None = None
    tags: tuple[Tag, ...] | None = None
    """None for models that do not tag; ``details=true`` then leaves the field out."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    backend: str
    device: str = "cpu"
    preferred_batch_size: int = 1
    detail_levels: tuple[Detail, ...] = ("brief",)
    fallback: str | None = None
    """Why this model serves instead of the one asked for (``--model auto``), if it does."""
    text_reader: str | None = None
    """What reads the words in pictures into captions; None when nothing does."""
    languages: tuple[str, ...] = ("en",)
    """The BCP 47 tags this model captions in, English first; ``/readyz`` and ``models list``
    show them, and a request for any other is refused before it is queued."""


class Captioner(ABC):
    """A loaded model that turns decoded RGB images into captions.

    ``caption_batch`` is called from one engine worker thread at a time; implementations may
    rely on that and need no locking of their own.
    """

    @property
    @abstractmethod
    def info(self) -> ModelInfo: ...

    @abstractmethod
    def load(self) -> None:
        """Load weights; raise a clear error for missing or broken model files."""

    def check_options(self, options: CaptionOptions) -> None:
        """Refuse, before any work is queued, options that this model cannot honour."""
        levels = self.info.detail_levels
        if options.detail is not None and options.detail not in levels:
            raise BadInput(
                f"The model {self.info.name} does not support detail={options.detail!r}; "
                f"it supports: {', '.join(levels)}."
            )

    def preprocess(self, image: Image.Image) -> Any:
        """Turn one decoded image into the model's input, off the worker thread.

        The engine calls this in a thread pool while the worker runs the previous batch, so
        resizing and normalising never stall the model. The default hands the image through.
        """
        return image

    def caption_prepared(self, inputs: Sequence[Any], options: CaptionOptions) -> list[Caption]:
        """Caption what ``preprocess`` returned; the engine's worker calls only this."""
        return self.caption_batch(inputs, options)

    def warmup(self) -> None:
        """Run one throw-away batch so that the first request does not pay for lazy set-up."""
        self.caption_batch([Image.new("RGB", (224, 224), (127, 127, 127))], CaptionOptions())

    @abstractmethod
    def caption_batch(
        self, images: Sequence[Image.Image], options: CaptionOptions
    ) -> list[Caption]:
        """Caption RGB images; must return one Caption per image, in order."""
