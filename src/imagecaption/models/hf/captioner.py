"""One captioner for every transformers architecture and both runtimes.

The architecture (``architectures``) says how to call the model, the backend (torch or onnx) says
who runs it, and decoding (``decoding``) is shared; this class only wires them to the Captioner
interface: image pre-processing in ``preprocess`` (called in the engine's thread pool), and
batched decoding plus detokenising in ``caption_prepared`` (the worker's critical path).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from imagecaption.models.base import Candidate, Caption, Captioner, CaptionOptions, ModelInfo
from imagecaption.models.hf.architectures import Architecture
from imagecaption.models.hf.decoding import Runtime, decode
from imagecaption.models.hf.folder import Processors, check_folder, load_processors
from imagecaption.models.hf.spec import ModelSpec

PREFERRED_BATCH_SIZE = 8
MAX_ASPECT = 4


class Backend(Protocol):
    name: str

    @property
    def device(self) -> str: ...

    def open(
        self, folder: Path, architecture: Architecture, processors: Processors
    ) -> tuple[Runtime[Any], ModelSpec]: ...


@dataclass
class _Loaded:
    processors: Processors
    runtime: Runtime[Any]
    spec: ModelSpec


class TransformersCaptioner(Captioner):
    """A transformers image-to-text model; ``locate`` returns its folder (downloading it first
    if that is how it is configured), and is only called by ``load``."""

    def __init__(self, name: str, locate: Callable[[], Path], backend: Backend) -> None:
        self._name = name
        self._locate = locate
        self._backend = backend
        self._loaded: _Loaded | None = None

    @property
    def info(self) -> ModelInfo:
        levels = self._loaded.spec.detail_levels if self._loaded else ("brief",)
        return ModelInfo(
            name=self._name,
            backend=self._backend.name,
            device=self._backend.device,
            preferred_batch_size=PREFERRED_BATCH_SIZE,
            detail_levels=levels,
        )

    def load(self) -> None:
        folder = self._locate()
        architecture = check_folder(folder)
        processors = load_processors(folder, architecture)
        runtime, spec = self._backend.open(folder, architecture, processors)
        self._loaded = _Loaded(processors, runtime, spec)

    def _ready(self) -> _Loaded:
        if self._loaded is None:
            raise RuntimeError("TransformersCaptioner.load() must be called before captioning")
        return self._loaded

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """Resized, normalised pixels (channels, height, width), as the model was trained."""
        processor = self._ready().processors.image
        if "shortest_edge" in (getattr(processor, "size", None) or {}):
            image = centre_band(image)
        pixels: np.ndarray = processor(images=image.convert("RGB"), return_tensors="np")[
            "pixel_values"
        ][0]
        return pixels

    def caption_batch(
        self, images: Sequence[Image.Image], options: CaptionOptions
    ) -> list[Caption]:
        return self.caption_prepared([self.preprocess(image) for image in images], options)

    def caption_prepared(self, inputs: Sequence[Any], options: CaptionOptions) -> list[Caption]:
        if not inputs:
            return []
        loaded = self._ready()
        prompt = loaded.spec.prompts[options.detail or "brief"]
        results = decode(
            loaded.runtime,
            np.stack(inputs).astype(np.float32, copy=False),
            np.tile(np.array(prompt, dtype=np.int64), (len(inputs), 1)),
            loaded.spec.generation(options),
        )
        decode_text = loaded.processors.tokenizer.decode
        captions = []
        for hypotheses in results:
            candidates = tuple(
                Candidate(
                    _tidy(decode_text(list(h.tokens), skip_special_tokens=True), options),
                    math.exp(h.score),
                )
                for h in hypotheses
            )
            # Hypotheses that differ only in tokens that read the same (or in words cut by
            # max_length) are one caption: keep the best-scored of each.
            unique: dict[str, Candidate] = {}
            for candidate in candidates:
                unique.setdefault(candidate.text, candidate)
            best = candidates[0]
            captions.append(Caption(best.text, best.score, tuple(unique.values())))
        return captions


def centre_band(image: Image.Image) -> Image.Image:
    """At most MAX_ASPECT times as long as it is wide, cut from the middle.

    Processors that scale the short side to the model's size and then keep the centre (CLIP's,
    which GIT uses) would first blow a 20000 x 2 pixel image up to 2,240,000 x 224: 13 s and 5 GB
    for an upload of a few hundred bytes. Only the centre square is kept in the end, so a band
    around it, wide enough for the resampling filter at its edges, gives the model the same
    pixels up to where a fraction of a pixel falls (the processor rounds the scaled length);
    ordinary photos are not touched.
    """
    width, height = image.size
    short = min(width, height)
    keep = math.ceil(MAX_ASPECT * short)
    if max(width, height) <= keep:
        return image
    if width > height:
        left = (width - keep) // 2
        return image.crop((left, 0, left + keep, height))
    top = (height - keep) // 2
    return image.crop((0, top, width, top + keep))


def _tidy(text: str, options: CaptionOptions) -> str:
    """One line, first letter capitalised, as the hosted service writes captions, and no more
    words than asked for (decoding stops on tokens, and a word can take several)."""
    text = " ".join(text.split()[: options.max_length])
    return text[:1].upper() + text[1:]
