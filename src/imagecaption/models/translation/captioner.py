"""A full captioning model that answers in more languages than English, by translating.

The model captions in English as always (batched, cached, with its alternatives); the captions
of a batch and their alternatives are then translated together, in one batch. ``max_length``
counts the words of the translation: the model writes its whole caption, and the translation is
cut, since a cut English sentence translates into a broken one.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from imagecaption.models.base import (
    Candidate,
    Caption,
    Captioner,
    CaptionOptions,
    ModelError,
    ModelInfo,
)
from imagecaption.models.translation.sources import TranslationSource
from imagecaption.models.translation.translator import Translator

log = logging.getLogger(__name__)
WARMUP_TEXT = "a photo of a cat"


class TranslatingCaptioner(Captioner):
    def __init__(
        self,
        inner: Captioner,
        sources: Sequence[TranslationSource],
        open_translator: Callable[[TranslationSource], Translator],
        beams: int = 1,
    ) -> None:
        self._inner = inner
        self._sources = list(sources)
        self._open = open_translator
        self._beams = beams
        self._translators: dict[str, tuple[Translator, int | None]] = {}
        self._loaded = False

    @property
    def info(self) -> ModelInfo:
        inner = self._inner.info
        offered = self._translators if self._loaded else [s.language for s in self._sources]
        languages = [*inner.languages, *(lang for lang in offered if lang not in inner.languages)]
        return dataclasses.replace(inner, languages=tuple(languages))

    def load(self) -> None:
        self._inner.load()
        opened: dict[Path, Translator] = {}  # one multilingual model serves all its languages
        for source in self._sources:
            try:
                if source.folder not in opened:
                    opened[source.folder] = self._open(source)
                translator = opened[source.folder]
                self._translators[source.language] = (
                    translator,
                    translator.target(source.language),
                )
            except (ModelError, OSError) as exc:
                log.error("captions in %s are not served: %s", source.language, exc)
        self._loaded = True

    def warmup(self) -> None:
        self._inner.warmup()
        for translator, target in self._translators.values():
            translator.translate([WARMUP_TEXT], target, self._beams)

    def check_options(self, options: CaptionOptions) -> None:
        Captioner.check_options(self, options)
        self._inner.check_options(self._english(options))

    def preprocess(self, image: Image.Image) -> Any:
        return self._inner.preprocess(image)

    def caption_batch(
        self, images: Sequence[Image.Image], options: CaptionOptions
    ) -> list[Caption]:
        return self.caption_prepared([self.preprocess(image) for image in images], options)

    def caption_prepared(self, inputs: Sequence[Any], options: CaptionOptions) -> list[Caption]:
        if options.lang in self._inner.info.languages:
            return self._inner.caption_prepared(inputs, options)
        english = self._inner.caption_prepared(
            inputs, dataclasses.replace(self._english(options), max_length=None)
        )
        translator, target = self._translators[options.lang]
        texts = list(
            dict.fromkeys(
                text
                for caption in english
                for text in (caption.text, *(c.text for c in caption.candidates))
            )
        )
        translated = dict(zip(texts, translator.translate(texts, target, self._beams), strict=True))

        def written(text: str) -> str:
            words = translated[text].split()[: options.max_length]
            sentence = " ".join(words)
            return sentence[:1].upper() + sentence[1:]

        return [_translated(caption, written) for caption in english]

    def _english(self, options: CaptionOptions) -> CaptionOptions:
        return dataclasses.replace(options, lang=self._inner.info.languages[0])


def _translated(caption: Caption, written: Callable[[str], str]) -> Caption:
    """The caption and its alternatives in the other language; alternatives that translate
    alike are one, with the better score."""
    unique: dict[str, Candidate] = {}
    for candidate in caption.candidates:
        unique.setdefault(
            written(candidate.text), Candidate(written(candidate.text), candidate.score)
        )
    return dataclasses.replace(
        caption, text=written(caption.text), candidates=tuple(unique.values())
    )
