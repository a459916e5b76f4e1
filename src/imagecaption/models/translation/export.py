"""A translation model folder written once as an exported translation folder (see
``translator``): two ONNX graphs, int8 or float32, the tokenizers as ``tokenizers`` files, and
what decoding needs as JSON. Needs the models extra (torch, transformers); the folder it writes
does not.

The graphs are quantised as the caption models' are (``hf/quantize``): the prefill (encoder and
first step) with per-row activation scales, the step with 8-bit weight blocks, so a sentence's
translation never depends on the other sentences of its batch.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from imagecaption.models.base import ModelError
from imagecaption.models.hf.export import write_manifest
from imagecaption.models.hf.onnx_backend import Graphs, build_once, export_key, save_graphs
from imagecaption.models.hf.spec import ModelSpec
from imagecaption.models.translation.graphs import TranslationPrefill, TranslationStep
from imagecaption.models.translation.marian_tokens import marian_tokenizers
from imagecaption.models.translation.translator import (
    DETOKENIZER,
    FORMAT,
    SETTINGS,
    TOKENIZER,
    translation_type,
)

MAX_NEW_TOKENS = 128
"""Longest translation written; a caption's is a few dozen tokens."""
MAX_SOURCE_TOKENS = 256
"""Longest English text read (or the model's own limit); a caption is far shorter."""
LANGUAGE_CODE = re.compile(r"^(?:[a-z]{3}_[A-Z][a-z]{3}|__[a-z]{2,3}__)$")
"""NLLB's target codes (``fra_Latn``) and M2M100's (``__fr__``)."""


def cached_export(folder: Path, cache_root: Path, quantize: bool) -> Path:
    """The export of a model folder, made once under ``cache_root`` and reused."""
    precision = "int8" if quantize else "fp32"
    return build_once(
        cache_root / f"{folder.name}-{precision}-{export_key(folder, quantize)}",
        lambda work: export_translation(folder, work, folder.name, None, quantize),
        f"exporting the translation model {folder.name} to ONNX",
    )


def export_translation(
    folder: Path, work: Path, name: str, revision: str | None, quantize: bool
) -> None:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    kind = translation_type(folder)
    if kind is None:
        raise ModelError(f"{folder.name} is not a Marian or M2M100/NLLB translation model.")
    model = AutoModelForSeq2SeqLM.from_pretrained(folder, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    spec = _spec(model)
    _export_graphs(model, spec, work, quantize)
    longest = min(MAX_SOURCE_TOKENS, int(model.config.max_position_embeddings))
    if kind == "marian":
        source, target = marian_tokenizers(folder, longest)
        source.save(str(work / TOKENIZER))
        target.save(str(work / DETOKENIZER))
        targets: dict[str, int] = {}
    else:
        if getattr(tokenizer, "src_lang", None) is not None:
            tokenizer.src_lang = "eng_Latn" if "eng_Latn" in tokenizer.get_vocab() else "en"
        backend = tokenizer.backend_tokenizer
        backend.enable_truncation(longest)
        backend.save(str(work / TOKENIZER))
        backend.save(str(work / DETOKENIZER))
        targets = {
            token: index
            for token, index in tokenizer.get_added_vocab().items()
            if LANGUAGE_CODE.match(token)
        }
    settings = {
        "model_type": kind,
        "clean_up_tokenization_spaces": bool(
            getattr(tokenizer, "clean_up_tokenization_spaces", False)
        ),
        "targets": targets,
    }
    (work / SETTINGS).write_text(json.dumps(settings, indent=1))
    spec.save(work / "spec.json")
    write_manifest(work, name, revision, kind, quantize, kind=FORMAT)
    work.chmod(0o755)


def _spec(model: Any) -> ModelSpec:
    config, generation = model.config, model.generation_config
    start = generation.decoder_start_token_id
    start = config.decoder_start_token_id if start is None else start
    pad = generation.pad_token_id if generation.pad_token_id is not None else config.pad_token_id
    eos = generation.eos_token_id if generation.eos_token_id is not None else config.eos_token_id
    bad = [ids[0] for ids in generation.bad_words_ids or [] if len(ids) == 1]
    forced_eos = generation.forced_eos_token_id
    return ModelSpec(
        detail_levels=("brief",),
        prompts={"brief": [int(start)]},
        eos=tuple(sorted(eos if isinstance(eos, list) else [eos])),
        pad=int(pad),
        forced_eos=forced_eos[0] if isinstance(forced_eos, list) else forced_eos,
        no_repeat_ngram=generation.no_repeat_ngram_size or 0,
        min_new_tokens=generation.min_new_tokens or 0,
        max_new_tokens=min(int(generation.max_length) - 1, MAX_NEW_TOKENS),
        suppressed=tuple(sorted(bad)),
    )


def _export_graphs(model: Any, spec: ModelSpec, work: Path, quantize: bool) -> None:
    source = torch.tensor([[5, 6, 7, spec.pad], [5, 6, 7, 8]])
    prompt = torch.tensor([spec.prompts["brief"]] * 2)
    prefill = TranslationPrefill(model, spec.pad)
    with torch.no_grad():
        logits, *state = prefill(source, prompt)
    cross = (len(state) - 2) // 2  # after the mask and the memory: cross, then self, alike
    save_graphs(
        Graphs(
            prefill=(prefill, (source, prompt), ["input_ids", "decoder_input_ids"]),
            step=(TranslationStep(model, cross), (logits.argmax(-1, keepdim=True), *state)),
            static=2 + cross,
            dynamic=cross,
            axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "decoder_input_ids": {0: "batch", 1: "prompt"},
            },
            memory_axes=[1, 1] + [2] * cross,
        ),
        work,
        quantize,
    )
