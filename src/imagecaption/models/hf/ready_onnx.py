"""A ready ONNX export in the layout Optimum and transformers.js publish on the model hub, served
with ONNX Runtime, NumPy, Pillow and ``tokenizers`` only (no torch, no transformers).

Such a repository (e.g. Xenova/vit-gpt2-image-captioning, onnx-community/Florence-2-base-ft)
holds ``config.json``, ``generation_config.json``, ``preprocessor_config.json`` and
``tokenizer.json`` beside an ``onnx/`` folder of graphs, each in several variants
(``encoder_model.onnx``, ``encoder_model_quantized.onnx``, ``_int8``, ``_uint8``, ``_q4``, ...):

- vision-encoder-decoder (ViT + GPT-2): ``encoder_model`` (``pixel_values`` ->
  ``last_hidden_state``) and ``decoder_model_merged``;
- Florence-2: ``vision_encoder`` (``pixel_values`` -> ``image_features``), ``embed_tokens``
  (``input_ids`` -> ``inputs_embeds``), ``encoder_model`` (``inputs_embeds``, ``attention_mask``
  -> ``last_hidden_state``; the image features come first, then the task prompt's words) and
  ``decoder_model_merged``.

The merged decoder is one graph for both calls of cached decoding: ``use_cache_branch`` false
for the first (the ``past_key_values.*`` inputs empty), true for the others. Its cache inputs are
named ``past_key_values.{i}.key`` / ``.value`` (GPT-2, self-attention only) or
``past_key_values.{i}.decoder.*`` and ``.encoder.*`` (BART: self- and cross-attention), each
answered by the output of the same name with ``present`` for ``past_key_values``. With the cache,
the cross-attention outputs are placeholders, so the ones of the first call are kept, as
transformers.js does. The decoding itself (greedy, beam search, batching) is ``decoding``'s, the
same as every other backend's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imagecaption.models.base import Detail, ModelError
from imagecaption.models.hf.captioner import DecodingCaptioner, Loaded
from imagecaption.models.hf.decoding import DecoderState
from imagecaption.models.hf.exported import Detokenizer
from imagecaption.models.hf.graph_runtime import NumpyState
from imagecaption.models.hf.preprocessing import from_config
from imagecaption.models.hf.spec import ModelSpec
from imagecaption.models.onnx_session import create_session

GRAPHS: dict[str, tuple[str, ...]] = {
    "vision-encoder-decoder": ("encoder_model", "decoder_model_merged"),
    "florence2": ("vision_encoder", "embed_tokens", "encoder_model", "decoder_model_merged"),
}
QUANTIZED = ("_quantized", "_int8", "_uint8", "_q4")
"""The int8 and 4-bit variants these repositories publish, in the order they are preferred when
``quantize`` is on (the float16 ones need float16 inputs and are not served)."""
CONFIGS = ("config.json", "preprocessor_config.json", "tokenizer.json")
FLORENCE2_TASKS: dict[Detail, str] = {
    "brief": "What does the image describe?",
    "detailed": "Describe in detail what is shown in the image.",
    "more_detailed": "Describe with a paragraph what is shown in the image.",
}
"""What Florence-2's processor turns ``<CAPTION>``, ``<DETAILED_CAPTION>`` and
``<MORE_DETAILED_CAPTION>`` into before tokenising."""


def is_ready_onnx(folder: Path) -> bool:
    """Whether ``folder`` is meant to be a ready ONNX export (``check_ready_onnx`` says if it is
    complete)."""
    graphs = folder / "onnx"
    return graphs.is_dir() and any(graphs.glob("decoder_model_merged*.onnx"))


@dataclass(frozen=True)
class ReadyOnnx:
    folder: Path
    model_type: str
    variant: str
    """The graphs' suffix: ``""`` (float32), ``_quantized``, ``_int8``, ..."""
    config: dict[str, Any]

    def graph(self, name: str) -> Path:
        return self.folder / "onnx" / f"{name}{self.variant}.onnx"


def check_ready_onnx(folder: Path, quantize: bool) -> ReadyOnnx:
    """The folder's layout and the variant to serve, or a one-line ModelError naming what is
    missing: an int8 variant where ``quantize`` is on and one is there, else float32."""
    missing = [name for name in CONFIGS if not (folder / name).is_file()]
    if missing:
        raise ModelError(f"{folder.name} is incomplete: {', '.join(missing)} missing.")
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder.name}/config.json cannot be read: {_line(exc)}") from None
    model_type = str(config.get("model_type")) if isinstance(config, dict) else "?"
    if model_type not in GRAPHS:
        raise ModelError(
            f"{folder.name}: model type {model_type!r} has no ready ONNX runner here; "
            f"supported: {', '.join(sorted(GRAPHS))}."
        )
    order = [*QUANTIZED, ""] if quantize else ["", *QUANTIZED]
    for variant in order:
        if all((folder / "onnx" / f"{g}{variant}.onnx").is_file() for g in GRAPHS[model_type]):
            return ReadyOnnx(folder, model_type, variant, config)
    wanted = ", ".join(f"onnx/{g}.onnx" for g in GRAPHS[model_type])
    raise ModelError(
        f"{folder.name} is incomplete: {wanted} (or one quantized variant of all of them) missing."
    )


def _line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else {}


def _eos(value: int | list[int] | None) -> tuple[int, ...]:
    if value is None:
        return ()
    return tuple(sorted([value] if isinstance(value, int) else value))


def _first(value: int | list[int] | None) -> int | None:
    return value[0] if isinstance(value, list) else value


@dataclass(frozen=True)
class Settings:
    """What decoding needs, read from the layout's JSON files as transformers would."""

    spec: ModelSpec
    decoder_start: int
    clean_up_spaces: bool


def read_settings(layout: ReadyOnnx) -> Settings:
    """The generation settings (``generation_config.json``, else ``config.json``, as
    transformers derives them), the prompts and the tokenizer's space clean-up."""
    folder, config = layout.folder, layout.config
    generation = _read_json(folder / "generation_config.json")

    def setting(name: str, *fallbacks: dict[str, Any]) -> Any:
        value = (generation or config).get(name)
        for other in fallbacks:
            if value is None:
                value = other.get(name)
        return value

    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    if layout.model_type == "florence2":
        text = config.get("text_config") or {}
        start = text.get("decoder_start_token_id")
        eos = setting("eos_token_id", text)
        pad = setting("pad_token_id", text)
        levels: tuple[Detail, ...] = ("brief", "detailed", "more_detailed")
        prompts = {detail: list(tokenizer.encode(FLORENCE2_TASKS[detail]).ids) for detail in levels}
        markers = 1  # the decoder writes <s> first
    else:
        decoder = config.get("decoder") or {}
        start = setting("decoder_start_token_id", config)
        if start is None:
            start = setting("bos_token_id")
        eos = setting("eos_token_id") or decoder.get("eos_token_id")
        pad = setting("pad_token_id", config)
        levels = ("brief",)
        prompts = {"brief": [int(start)]}
        markers = 0
    if start is None:
        raise ModelError(f"{folder.name}/config.json names no decoder start token.")
    forced_eos = _first(setting("forced_eos_token_id"))
    spec = ModelSpec(
        detail_levels=levels,
        prompts=prompts,
        eos=_eos(eos),
        pad=int(pad or 0),
        forced_bos=setting("forced_bos_token_id"),
        forced_eos=forced_eos,
        no_repeat_ngram=setting("no_repeat_ngram_size") or 0,
        min_new_tokens=setting("min_new_tokens") or 0,
        max_new_tokens=setting("max_new_tokens"),
        marker_tokens=markers + (forced_eos is not None),
    )
    return Settings(spec, int(start), _cleans_up_spaces(folder, tokenizer))


def _cleans_up_spaces(folder: Path, tokenizer: Any) -> bool:
    """transformers' rule (see ``export._cleans_up_spaces``) from ``tokenizer_config.json``."""
    options = _read_json(folder / "tokenizer_config.json")
    if not options.get("clean_up_tokenization_spaces", False):
        return False
    bpe = type(tokenizer.model).__name__ == "BPE"
    forced = options.get(
        "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output", False
    )
    return not bpe or bool(forced)


class ReadyOnnxRuntime:
    """``decoding.Runtime`` over the layout's graphs. The state keeps, fixed after the first
    call, the encoder's output, its attention mask and the cross-attention cache (if the graph
    has one); what grows is the self-attention cache."""

    def __init__(
        self, layout: ReadyOnnx, decoder_start: int, threads: int, *, spin: bool = False
    ) -> None:
        self._florence = layout.model_type == "florence2"
        graphs = GRAPHS[layout.model_type]
        sessions = {name: create_session(layout.graph(name), threads, spin=spin) for name in graphs}
        self._sessions = sessions
        self._start = decoder_start
        decoder = sessions["decoder_model_merged"]
        declared = {given.name: given for given in decoder.get_inputs()}
        self._inputs = set(declared)
        past = [name for name in declared if name.startswith("past_key_values.")]
        self._cross = [name for name in past if ".encoder." in name]
        self._own = [name for name in past if ".encoder." not in name]
        unknown = sorted(set(declared) - set(past) - KNOWN_DECODER_INPUTS)
        if unknown:
            raise ModelError(
                f"{layout.folder.name}: the merged decoder takes inputs this runner does not "
                f"feed ({', '.join(unknown)}); this export cannot be served."
            )
        fallback = _heads(layout)
        self._empty: dict[str, tuple[int, int]] = {}
        for name in past:
            shape = declared[name].shape
            heads, size = (shape[1], shape[3]) if len(shape) == 4 else (None, None)
            if not isinstance(heads, int) or not isinstance(size, int):
                if fallback is None:
                    raise ModelError(
                        f"{layout.folder.name}: {name} has no fixed number of heads and head "
                        f"size ({shape}), nor does config.json give them."
                    )
                heads, size = fallback
            self._empty[name] = (heads, size)

    def _run(self, graph: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        session = self._sessions[graph]
        names = [output.name for output in session.get_outputs()]
        return dict(zip(names, session.run(None, feeds), strict=True))

    def _embed(self, tokens: np.ndarray) -> np.ndarray:
        embeds: np.ndarray = self._run("embed_tokens", {"input_ids": tokens})["inputs_embeds"]
        return embeds

    def _decode(
        self,
        tokens: np.ndarray,
        memory: np.ndarray,
        mask: np.ndarray,
        past: dict[str, np.ndarray],
        cached: bool,
    ) -> dict[str, np.ndarray]:
        feeds: dict[str, np.ndarray] = {"encoder_hidden_states": memory}
        if "inputs_embeds" in self._inputs:
            feeds["inputs_embeds"] = self._embed(tokens)
        else:
            feeds["input_ids"] = tokens
        if "encoder_attention_mask" in self._inputs:
            feeds["encoder_attention_mask"] = mask
        feeds["use_cache_branch"] = np.array([cached])
        return self._run("decoder_model_merged", {**feeds, **past})

    def prefill(
        self, pixel_values: np.ndarray, prompt: np.ndarray
    ) -> tuple[np.ndarray, NumpyState]:
        rows = len(pixel_values)
        if self._florence:
            image = self._run("vision_encoder", {"pixel_values": pixel_values})["image_features"]
            joined = np.concatenate([image, self._embed(prompt)], axis=1)
            mask = np.ones(joined.shape[:2], dtype=np.int64)
            encoded = self._run("encoder_model", {"inputs_embeds": joined, "attention_mask": mask})
            memory = encoded["last_hidden_state"]
            tokens = np.full((rows, 1), self._start, dtype=np.int64)
        else:
            memory = self._run("encoder_model", {"pixel_values": pixel_values})["last_hidden_state"]
            mask = np.ones(memory.shape[:2], dtype=np.int64)
            tokens = prompt
        empty = {
            name: np.zeros((rows, heads, 0, size), dtype=np.float32)
            for name, (heads, size) in self._empty.items()
        }
        out = self._decode(tokens, memory, mask, empty, cached=False)
        static = [memory, mask, *(out[_present(name)] for name in self._cross)]
        dynamic = [out[_present(name)] for name in self._own]
        return out["logits"][:, -1], DecoderState(static, dynamic)

    def step(self, tokens: np.ndarray, state: NumpyState) -> tuple[np.ndarray, NumpyState]:
        memory, mask, *cross = state.static
        past = dict(zip(self._cross, cross, strict=True))
        past.update(zip(self._own, state.dynamic, strict=True))
        out = self._decode(tokens, memory, mask, past, cached=True)
        dynamic = [out[_present(name)] for name in self._own]
        return out["logits"][:, -1], DecoderState(state.static, dynamic)

    def select(self, state: NumpyState, rows: np.ndarray) -> NumpyState:
        return DecoderState(
            [array[rows] for array in state.static], [array[rows] for array in state.dynamic]
        )


KNOWN_DECODER_INPUTS = {
    "input_ids",
    "inputs_embeds",
    "encoder_hidden_states",
    "encoder_attention_mask",
    "use_cache_branch",
}


def _heads(layout: ReadyOnnx) -> tuple[int, int] | None:
    """(attention heads, head size) of the decoder from ``config.json``, for graphs that leave
    them symbolic in the cache inputs' shapes."""
    if layout.model_type == "florence2":
        text = layout.config.get("text_config") or {}
        heads, width = text.get("decoder_attention_heads"), text.get("d_model")
    else:
        decoder = layout.config.get("decoder") or {}
        heads = decoder.get("n_head") or decoder.get("num_attention_heads")
        width = decoder.get("n_embd") or decoder.get("hidden_size")
    if not isinstance(heads, int) or not isinstance(width, int) or heads <= 0:
        return None
    return heads, width // heads


def _present(past: str) -> str:
    return past.replace("past_key_values", "present", 1)


class ReadyOnnxCaptioner(DecodingCaptioner):
    """A ready ONNX folder on ONNX Runtime; checked when made, loaded by ``load``."""

    def __init__(
        self, name: str, folder: Path, quantize: bool, threads: int, *, spin: bool = False
    ) -> None:
        super().__init__(name, "onnx", "cpu")
        self._folder = folder
        self._quantize = quantize
        self._threads = threads
        self._spin = spin
        check_ready_onnx(folder, quantize)

    def _open(self) -> Loaded:
        folder = self._folder
        layout = check_ready_onnx(folder, self._quantize)
        try:
            image = from_config(_read_json(folder / "preprocessor_config.json"))
            settings = read_settings(layout)
            detokenize = Detokenizer(folder / "tokenizer.json", settings.clean_up_spaces)
            runtime = ReadyOnnxRuntime(
                layout, settings.decoder_start, self._threads, spin=self._spin
            )
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise ModelError(f"{folder.name} cannot be loaded: {_line(exc)}") from None
        return Loaded(image, detokenize, runtime, settings.spec)
