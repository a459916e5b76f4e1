"""An exported translation folder on ONNX Runtime and ``tokenizers``: no torch, no transformers.

The folder (written by ``export``) holds the two graphs with ``spec.json`` and ``export.json``
as an exported caption model does, ``tokenizer.json`` for the English side,
``detokenizer.json`` for the target side, ``translation.json`` (the model type, and for
multilingual models the token that names each target language) and ``manifest.json``. A batch of
captions is padded to its longest and decoded together by the caption models' own decoding
(greedy, or beam search), so the same tokens come out as from transformers' ``generate()``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import langcodes
import numpy as np

from imagecaption.models.base import CaptionOptions, ModelError
from imagecaption.models.hf.decoding import decode
from imagecaption.models.hf.exported import Detokenizer, check_exported, verify_checksums
from imagecaption.models.hf.graph_runtime import NumpyState
from imagecaption.models.hf.onnx_graphs import Export, OnnxRuntime

FORMAT = "imagecaption-translation-export"
TOKENIZER = "tokenizer.json"
DETOKENIZER = "detokenizer.json"
SETTINGS = "translation.json"
REQUIRED: tuple[str, ...] = ("prefill.onnx", "step.onnx", "spec.json", "export.json")
REQUIRED += (TOKENIZER, DETOKENIZER, SETTINGS)
TRANSLATION_TYPES = ("marian", "m2m_100")
TARGET_DISTANCE = 10
"""How far (langcodes' distance) a multilingual model's target code may be from the language
configured for it: ``pt`` finds ``por_Latn``, ``zh`` finds ``zho_Hans`` but not ``zho_Hant``."""


def translation_type(folder: Path) -> str | None:
    """The folder's ``model_type`` when it is a translation model this package serves."""
    try:
        kind = json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
    return kind if kind in TRANSLATION_TYPES else None


def is_translation_export(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


def check_translation_export(folder: Path) -> None:
    check_exported(folder, FORMAT, REQUIRED)


class TranslationRuntime(OnnxRuntime):
    """The caption models' graph runtime, fed source text where they are fed pixels."""

    def prefill(self, source: np.ndarray, prompt: np.ndarray) -> tuple[np.ndarray, NumpyState]:
        logits, *state = self._run_prefill({"input_ids": source, "decoder_input_ids": prompt})
        return logits, self._feeds.state(state)


class Translator:
    """English sentences into the languages one exported model writes, in batches."""

    def __init__(self, folder: Path, threads: int) -> None:
        from tokenizers import Tokenizer

        manifest = check_exported(folder, FORMAT, REQUIRED)
        verify_checksums(folder, manifest)
        try:
            settings = json.loads((folder / SETTINGS).read_text())
            self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER))
            self._detokenize = Detokenizer(
                folder / DETOKENIZER, bool(settings["clean_up_tokenization_spaces"])
            )
            export = Export.read(folder)
            self._targets: dict[str, int] = dict(settings["targets"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{folder.name} cannot be loaded: {exc}") from None
        self.name = manifest.source
        self._spec = export.spec
        self._runtime = TranslationRuntime(export, threads)

    def target(self, language: str) -> int | None:
        """The token that makes a multilingual model write ``language`` (None for a model that
        writes one language only); ModelError when it does not write it."""
        if not self._targets:
            return None
        tags = {code.strip("_").replace("_", "-"): code for code in self._targets}
        match = langcodes.closest_supported_match(
            language, list(tags), max_distance=TARGET_DISTANCE
        )
        if match is None:
            raise ModelError(f"{self.name} does not translate into {language!r}.")
        return self._targets[tags[str(match)]]

    def translate(self, texts: Sequence[str], target: int | None, beams: int = 1) -> list[str]:
        """``texts`` translated; ``target`` is what ``target()`` said for the language."""
        if not texts:
            return []
        encoded = self._tokenizer.encode_batch(list(texts))
        longest = max(len(e.ids) for e in encoded)
        source = np.full((len(encoded), longest), self._spec.pad, dtype=np.int64)
        for row, encoding in enumerate(encoded):
            source[row, : len(encoding.ids)] = encoding.ids
        prompt = np.tile(np.array(self._spec.prompts["brief"], dtype=np.int64), (len(texts), 1))
        generation = dataclasses.replace(
            self._spec.generation(CaptionOptions(num_captions=beams)),
            num_return=1,
            forced_bos=target,
        )
        results = decode(self._runtime, source, prompt, generation)
        # One line, single spaces: pieces left around a skipped <unk> leave spaces at the ends.
        return [" ".join(self._detokenize(list(found[0].tokens)).split()) for found in results]
