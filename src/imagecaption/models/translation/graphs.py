"""A translation model's two calls as modules over plain tensors, for the ONNX exporter.

The same split as the caption models' (``hf/graphs``): a *prefill* runs the encoder over the
English text and the decoder over its start token; a *step* writes one more token. The state
handed from call to call is flat: the source's attention mask (computed from the padding) and
the encoder's output, the cross-attention keys and values (fixed after the prefill), and the
self-attention ones (one token longer per step).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.modeling_outputs import BaseModelOutput

from imagecaption.models.hf.graphs import _join, _split

Model = Any
"""A transformers encoder-decoder (MarianMTModel, M2M100ForConditionalGeneration)."""


class TranslationPrefill(torch.nn.Module):
    """(source ids, decoder prompt) -> (logits, mask, memory, *cross, *self)."""

    def __init__(self, model: Model, pad: int) -> None:
        super().__init__()
        self.model = model
        self.pad = pad

    def forward(
        self, input_ids: torch.Tensor, decoder_input_ids: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        mask = (input_ids != self.pad).to(torch.int64)
        memory = self.model.get_encoder()(input_ids=input_ids, attention_mask=mask)
        out = self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=memory.last_hidden_state),
            attention_mask=mask,
            decoder_input_ids=decoder_input_ids,
            use_cache=True,
        )
        own, cross = _split(out.cache)
        return (out.logits[:, -1], mask, memory.last_hidden_state, *cross, *own)


class TranslationStep(torch.nn.Module):
    """(token, mask, memory, *cross, *self) -> (logits, *self)."""

    def __init__(self, model: Model, cross_count: int) -> None:
        super().__init__()
        self.model = model
        self.cross_count = cross_count

    def forward(
        self,
        input_ids: torch.Tensor,
        mask: torch.Tensor,
        memory: torch.Tensor,
        *state: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        cross, own = state[: self.cross_count], state[self.cross_count :]
        out = self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=memory),
            attention_mask=mask,
            decoder_input_ids=input_ids,
            cache=_join(own, cross),
            use_cache=True,
        )
        return (out.logits[:, -1], *_split(out.cache)[0])
