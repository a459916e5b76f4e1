"""The two calls of cached decoding as modules over plain tensors.

transformers keeps its key/value cache in ``Cache`` objects, which neither the ONNX exporter nor
a numpy decoding loop can carry. These wrappers take and return the cache as flat tensor lists, so
the very same modules run eagerly (the torch backend) and are traced to ONNX (the onnx backend):
one definition of the model's calls, two runtimes, and the same tokens from both.

A decoder's state is split in two: *static* tensors fixed after prefill (the image memory and the
cross-attention keys and values) and *dynamic* ones that grow by a token per step (self-attention
keys and values). Only the dynamic part goes back and forth at every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from transformers import Cache, DynamicCache, EncoderDecoderCache
from transformers.cache_utils import DynamicLayer

from imagecaption.models.hf.architectures import Architecture, Model


def _flat(cache: Cache) -> list[torch.Tensor]:
    layers: list[Any] = list(cache.layers)
    return [tensor for layer in layers for tensor in (layer.keys, layer.values)]


def _split(cache: Cache) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(self-attention tensors, cross-attention tensors) of a cache, flattened."""
    if isinstance(cache, EncoderDecoderCache):
        return _flat(cache.self_attention_cache), _flat(cache.cross_attention_cache)
    return _flat(cache), []


def _dynamic_cache(tensors: Sequence[torch.Tensor]) -> DynamicCache:
    """A cache holding these tensors as they are.

    ``DynamicCache(pairs)`` would concatenate each tensor onto an empty one, a full copy of the
    cache at every step (and one more node per tensor in the exported graph).
    """
    cache = DynamicCache()
    for keys, values in zip(tensors[::2], tensors[1::2], strict=True):
        layer: Any = cast(Any, DynamicLayer)()
        layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values
        cache.layers.append(layer)
    return cache


def _join(dynamic: Sequence[torch.Tensor], cross: Sequence[torch.Tensor]) -> Cache:
    own = _dynamic_cache(dynamic)
    return EncoderDecoderCache(own, _dynamic_cache(cross)) if cross else own


class PrefillGraph(torch.nn.Module):
    """(pixel_values, prompt) -> (logits, *static, *dynamic)."""

    def __init__(self, model: Model, architecture: Architecture) -> None:
        super().__init__()
        self.model = model
        self.architecture = architecture

    def run(
        self, pixel_values: torch.Tensor, prompt: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        logits, memory, cache = self.architecture.prefill(self.model, pixel_values, prompt)
        dynamic, cross = _split(cache)
        static = [memory, *cross] if memory is not None else []
        return logits, static, dynamic

    def forward(self, pixel_values: torch.Tensor, prompt: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, static, dynamic = self.run(pixel_values, prompt)
        return (logits, *static, *dynamic)


class StepGraph(torch.nn.Module):
    """(input_ids, *static, *dynamic) -> (logits, *dynamic).

    ``static_count`` says where the flat state of ``forward`` splits; ``run`` takes the two parts.
    """

    def __init__(self, model: Model, architecture: Architecture, static_count: int = 0) -> None:
        super().__init__()
        self.model = model
        self.architecture = architecture
        self.static_count = static_count

    def run(
        self,
        input_ids: torch.Tensor,
        static: Sequence[torch.Tensor],
        dynamic: Sequence[torch.Tensor],
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        memory = static[0] if static else None
        cache = _join(dynamic, static[1:])
        logits, cache = self.architecture.step(self.model, input_ids, memory, cache)
        return logits, _split(cache)[0]

    def forward(self, input_ids: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        count = self.static_count
        logits, dynamic = self.run(input_ids, state[:count], state[count:])
        return (logits, *dynamic)
