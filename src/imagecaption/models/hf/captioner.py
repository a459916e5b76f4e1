"""One captioner for every transformers architecture and every runtime.

The architecture (``architectures``) says how to call the model, the backend (torch, onnx or
openvino) says who runs it, and decoding (``decoding``) is shared; these classes only wire them to
the Captioner interface: image pre-processing in ``preprocess`` (called in the engine's thread
pool), and batched decoding plus detokenising in ``caption_prepared`` (the worker's critical
path). ``TransformersCaptioner`` loads a model folder with transformers; an exported folder is
served by ``exported.ExportedCaptioner`` over the same decoding, without torch or transformers,
so nothing here imports them at module level.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from PIL import Image

from imagecaption.models.base import Candidate, Caption, Captioner, CaptionOptions, ModelInfo
from imagecaption.models.hf.decoding import Runtime, decode
from imagecaption.models.hf.preprocessing import centre_band
from imagecaption.models.hf.spec import ModelSpec

if TYPE_CHECKING:
    from imagecaption.models.hf.architectures import Architecture
    from imagecaption.models.hf.folder import Processors

PREFERRED_BATCH_SIZE = 8
__all__ = ["Backend", "DecodingCaptioner", "Loaded", "TransformersCaptioner", "centre_band"]


class Backend(Protocol):
    name: str

    @property
    def device(self) -> str: ...

    def open(
        self, folder: Path, architecture: Architecture, processors: Processors
    ) -> tuple[Runtime[Any], ModelSpec]: ...


@dataclass(frozen=True)
class Loaded:
    """A loaded model, whoever loaded it."""

    preprocess: Callable[[Image.Image], np.ndarray]
    """Pixels (channels, height, width) for one image."""
    detokenize: Callable[[list[int]], str]
    """Text of the tokens, special tokens left out."""
    runtime: Runtime[Any]
    spec: ModelSpec


class DecodingCaptioner(Captioner):
    """Pre-processing, batched decoding and detokenising over a ``Loaded`` model."""

    def __init__(self, name: str, backend: str, device: str) -> None:
        self._name = name
        self._backend_name = backend
        self._device = device
        self._loaded: Loaded | None = None

    @property
    def info(self) -> ModelInfo:
        levels = self._loaded.spec.detail_levels if self._loaded else ("brief",)
        return ModelInfo(
            name=self._name,
            backend=self._backend_name,
            device=self._device,
            preferred_batch_size=PREFERRED_BATCH_SIZE,
            detail_levels=levels,
        )

    def load(self) -> None:
        self._loaded = self._open()

    @abstractmethod
    def _open(self) -> Loaded: ...

    def _ready(self) -> Loaded:
        if self._loaded is None:
            raise RuntimeError(f"{type(self).__name__}.load() must be called before captioning")
        return self._loaded

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """Resized, normalised pixels (channels, height, width), as the model was trained."""
        return self._ready().preprocess(image)

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
        captions = []
        for hypotheses in results:
            candidates = tuple(
                Candidate(_tidy(loaded.detokenize(list(h.tokens)), options), math.exp(h.score))
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


class TransformersCaptioner(DecodingCaptioner):
    """A transformers image-to-text model; ``locate`` returns its folder (downloading it first
    if that is how it is configured), and is only called by ``load``."""

    def __init__(self, name: str, locate: Callable[[], Path], backend: Backend) -> None:
        super().__init__(name, backend.name, backend.device)
        self._locate = locate
        self._backend = backend

    def _open(self) -> Loaded:
        from imagecaption.models.hf.folder import check_folder, load_processors

        folder = self._locate()
        architecture = check_folder(folder)
        processors = load_processors(folder, architecture)
        runtime, spec = self._backend.open(folder, architecture, processors)
        image, tokenizer = processors.image, processors.tokenizer

        def preprocess(picture: Image.Image) -> np.ndarray:
            if "shortest_edge" in (getattr(image, "size", None) or {}):
                picture = centre_band(picture)
            pixels: np.ndarray = image(images=picture.convert("RGB"), return_tensors="np")[
                "pixel_values"
            ][0]
            return pixels

        def detokenize(tokens: list[int]) -> str:
            return str(tokenizer.decode(tokens, skip_special_tokens=True))

        return Loaded(preprocess, detokenize, runtime, spec)


def _tidy(text: str, options: CaptionOptions) -> str:
    """One line, first letter capitalised, as the hosted service writes captions, and no more
    words than asked for (decoding stops on tokens, and a word can take several)."""
    text = " ".join(text.split()[: options.max_length])
    return text[:1].upper() + text[1:]
