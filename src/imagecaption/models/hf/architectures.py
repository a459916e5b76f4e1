"""What differs between the captioning architectures that transformers ships, and nothing more.

Every architecture is driven the same way: one *prefill* call turns pixels and a prompt into the
first token's logits plus a key/value cache, then *step* calls extend the cache one token at a
time. Both calls go through the model's own ``forward``, so the maths is transformers' and the
cached decoding gives the same tokens as ``model.generate``; only the handful of lines that pick
the entry point, the start tokens and the stop token live here, one small class per architecture.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from PIL import Image
from transformers import (
    BlipForConditionalGeneration,
    Cache,
    Florence2ForConditionalGeneration,
    GitForCausalLM,
    PreTrainedModel,
    VisionEncoderDecoderModel,
)
from transformers.modeling_outputs import BaseModelOutput

from imagecaption.models.base import Detail

Prefilled = tuple[torch.Tensor, torch.Tensor | None, Cache]
"""Logits for the first new token, the image memory that cross-attention reads (if any), cache."""
Model = Any
"""A transformers model of the adapter's own class; their attributes differ, so typed loosely."""


@dataclass(frozen=True)
class Tokens:
    """The token ids that decoding needs besides the prompt."""

    eos: frozenset[int]
    pad: int


class Architecture(ABC):
    """One family of captioning models, as transformers implements it."""

    model_types: ClassVar[tuple[str, ...]]
    model_class: ClassVar[type[PreTrainedModel]]
    detail_levels: ClassVar[tuple[Detail, ...]] = ("brief",)
    uses_processor: ClassVar[bool] = False
    """Whether ``prompt`` needs the model's full processor (not only its tokenizer)."""
    start_markers: ClassVar[int] = 0
    """Special tokens the model writes before the caption's words."""

    @abstractmethod
    def prompt(self, model: Model, processor: Any, detail: Detail) -> list[int]:
        """The ids every image of a batch starts from; identical within a batch, so no padding."""

    @abstractmethod
    def tokens(self, model: Model) -> Tokens: ...

    @abstractmethod
    def prefill(
        self, model: Model, pixel_values: torch.Tensor, prompt: torch.Tensor
    ) -> Prefilled: ...

    @abstractmethod
    def step(
        self,
        model: Model,
        input_ids: torch.Tensor,
        memory: torch.Tensor | None,
        cache: Cache,
    ) -> tuple[torch.Tensor, Cache]: ...


def _eos(value: int | list[int] | None) -> frozenset[int]:
    if value is None:
        return frozenset()
    return frozenset([value] if isinstance(value, int) else value)


class Git(Architecture):
    """GIT: image tokens are a prefix of the text decoder's own sequence (no cross-attention)."""

    model_types = ("git",)
    model_class = GitForCausalLM

    def prompt(self, model: Model, processor: Any, detail: Detail) -> list[int]:
        return [int(model.generation_config.bos_token_id)]

    def tokens(self, model: Model) -> Tokens:
        config = model.generation_config
        return Tokens(eos=_eos(config.eos_token_id), pad=int(config.pad_token_id or 0))

    def prefill(self, model: Model, pixel_values: torch.Tensor, prompt: torch.Tensor) -> Prefilled:
        out = model(input_ids=prompt, pixel_values=pixel_values, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1], None, out.cache

    def step(
        self,
        model: Model,
        input_ids: torch.Tensor,
        memory: torch.Tensor | None,
        cache: Cache,
    ) -> tuple[torch.Tensor, Cache]:
        # The cache holds the image tokens too, but text positions count from the first text
        # token: without this the model would read position 197 where generate() passes 1.
        image_tokens = model.git.encoder.layer[0].attention.self.image_patch_tokens
        position = torch.ones_like(input_ids) * (cache.get_seq_length() - image_tokens)
        out = model(
            input_ids=input_ids,
            cache=cache,
            position_ids=position,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1], out.cache


class Blip(Architecture):
    """BLIP: a ViT encoder, and a BERT decoder that cross-attends to its patch embeddings."""

    model_types = ("blip",)
    model_class = BlipForConditionalGeneration

    def prompt(self, model: Model, processor: Any, detail: Detail) -> list[int]:
        return [int(model.config.text_config.bos_token_id)]

    def tokens(self, model: Model) -> Tokens:
        text = model.config.text_config  # generate() stops on [SEP], not on eos_token_id
        return Tokens(eos=_eos(text.sep_token_id), pad=int(text.pad_token_id or 0))

    def prefill(self, model: Model, pixel_values: torch.Tensor, prompt: torch.Tensor) -> Prefilled:
        memory = model.vision_model(pixel_values=pixel_values).last_hidden_state
        out = model.text_decoder(
            input_ids=prompt, encoder_hidden_states=memory, use_cache=True, logits_to_keep=1
        )
        return out.logits[:, -1], memory, out.cache

    def step(
        self,
        model: Model,
        input_ids: torch.Tensor,
        memory: torch.Tensor | None,
        cache: Cache,
    ) -> tuple[torch.Tensor, Cache]:
        out = model.text_decoder(
            input_ids=input_ids,
            encoder_hidden_states=memory,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1], out.cache


class _EncoderDecoder(Architecture):
    """A vision encoder whose output a text decoder cross-attends to; each step calls the whole
    model with the encoder's output handed back in, so the encoder never runs again."""

    keep_argument: ClassVar[str]
    """What the model's forward calls its logits_to_keep argument."""

    def step(
        self,
        model: Model,
        input_ids: torch.Tensor,
        memory: torch.Tensor | None,
        cache: Cache,
    ) -> tuple[torch.Tensor, Cache]:
        out = model(
            encoder_outputs=BaseModelOutput(last_hidden_state=memory),
            decoder_input_ids=input_ids,
            cache=cache,
            use_cache=True,
            **{self.keep_argument: 1},
        )
        return out.logits[:, -1], out.cache


class VisionEncoderDecoder(_EncoderDecoder):
    """Any vision encoder with a cross-attending text decoder, e.g. ViT + GPT-2."""

    model_types = ("vision-encoder-decoder",)
    model_class = VisionEncoderDecoderModel
    keep_argument = "decoder_logits_to_keep"

    def prompt(self, model: Model, processor: Any, detail: Detail) -> list[int]:
        config = model.generation_config
        start = config.decoder_start_token_id or model.config.decoder_start_token_id
        if start is None:
            start = config.bos_token_id
        return [int(start)]

    def tokens(self, model: Model) -> Tokens:
        config = model.generation_config
        eos = config.eos_token_id or model.config.decoder.eos_token_id
        pad = config.pad_token_id if config.pad_token_id is not None else model.config.pad_token_id
        return Tokens(eos=_eos(eos), pad=int(pad or 0))

    def prefill(self, model: Model, pixel_values: torch.Tensor, prompt: torch.Tensor) -> Prefilled:
        out = model(
            pixel_values=pixel_values,
            decoder_input_ids=prompt,
            use_cache=True,
            decoder_logits_to_keep=1,
        )
        return out.logits[:, -1], out.encoder_last_hidden_state, out.cache


class Florence2(_EncoderDecoder):
    """Florence-2: image tokens and a task prompt go through a BART encoder; the decoder writes.

    The task prompt is how Florence-2 is asked for a short or a detailed caption.
    """

    model_types = ("florence2",)
    model_class = Florence2ForConditionalGeneration
    keep_argument = "logits_to_keep"
    detail_levels = ("brief", "detailed", "more_detailed")
    uses_processor = True
    start_markers = 1  # the decoder writes <s> first
    TASKS: ClassVar[dict[Detail, str]] = {
        "brief": "<CAPTION>",
        "detailed": "<DETAILED_CAPTION>",
        "more_detailed": "<MORE_DETAILED_CAPTION>",
    }

    def prompt(self, model: Model, processor: Any, detail: Detail) -> list[int]:
        # The processor expands the task into words and the image placeholders; any image
        # will do, only the ids are kept.
        size = processor.image_processor.size
        blank = Image.new("RGB", (size.get("width", 64), size.get("height", 64)))
        ids = processor(text=self.TASKS[detail], images=blank, return_tensors="np")["input_ids"]
        return [int(token) for token in ids[0]]

    def tokens(self, model: Model) -> Tokens:
        config = model.generation_config
        text = model.config.text_config
        eos = config.eos_token_id if config.eos_token_id is not None else text.eos_token_id
        pad = config.pad_token_id if config.pad_token_id is not None else text.pad_token_id
        return Tokens(eos=_eos(eos), pad=int(pad or 0))

    def prefill(self, model: Model, pixel_values: torch.Tensor, prompt: torch.Tensor) -> Prefilled:
        start = model.config.text_config.decoder_start_token_id
        out = model(
            input_ids=prompt,
            pixel_values=pixel_values,
            decoder_input_ids=torch.ones_like(prompt[:, :1]) * start,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1], out.encoder_last_hidden_state, out.cache


ARCHITECTURES: tuple[Architecture, ...] = (Git(), Blip(), VisionEncoderDecoder(), Florence2())


def supported_model_types() -> list[str]:
    return sorted(kind for arch in ARCHITECTURES for kind in arch.model_types)


def architecture_for(model_type: str) -> Architecture | None:
    return next((arch for arch in ARCHITECTURES if model_type in arch.model_types), None)
