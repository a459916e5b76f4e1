"""The interface every captioning backend offers the engine, and nothing more.

Adding a backend means one new module in this package and one entry in ``registry.py``; the API
layer and the engine never know which backend serves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image


@dataclass(frozen=True)
class CaptionOptions:
    """Per-request options; part of the cache key, so keep them hashable."""

    max_length: int | None = None
    num_captions: int = 1


@dataclass(frozen=True)
class Candidate:
    text: str
    score: float


@dataclass(frozen=True)
class Caption:
    """One image's result: the sentence, and alternatives with scores when asked for."""

    text: str
    score: float | None = None
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    backend: str
    device: str = "cpu"
    preferred_batch_size: int = 1


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

    def warmup(self) -> None:
        """Run one throw-away batch so that the first request does not pay for lazy set-up."""
        self.caption_batch([Image.new("RGB", (224, 224), (127, 127, 127))], CaptionOptions())

    @abstractmethod
    def caption_batch(
        self, images: Sequence[Image.Image], options: CaptionOptions
    ) -> list[Caption]:
        """Caption RGB images; must return one Caption per image, in order."""
