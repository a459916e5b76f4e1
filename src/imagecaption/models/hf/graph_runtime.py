"""Decoding on the onnx export's two graphs (prefill and step), numpy arrays in and out.

ONNX Runtime and OpenVINO run the same two graphs, named and fed the same way; only how a graph
is called differs, and that is all each of their runtimes says.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from imagecaption.models.hf.decoding import DecoderState

NumpyState = DecoderState[np.ndarray]


@dataclass(frozen=True)
class StepFeeds:
    """Which tensors of a decoder state the step graph takes, under the names the export gave
    them. The exporter drops inputs a graph never reads (e.g. the memory, once cross-attention
    reads its cached keys), so only what the step graph declares is fed."""

    static: int
    named: tuple[tuple[int, str], ...]

    @classmethod
    def declared(cls, static: int, dynamic: int, accepted: set[str]) -> StepFeeds:
        names = [f"static_{i}" for i in range(static)]
        names += [f"dynamic_{i}" for i in range(dynamic)]
        return cls(static, tuple((i, name) for i, name in enumerate(names) if name in accepted))

    def state(self, outputs: list[np.ndarray]) -> NumpyState:
        """The prefill's outputs after the logits, as a decoder state."""
        return DecoderState(outputs[: self.static], outputs[self.static :])

    def feeds(self, state: NumpyState) -> dict[str, np.ndarray]:
        flat = [*state.static, *state.dynamic]
        return {name: flat[index] for index, name in self.named}


class GraphRuntime(ABC):
    """``decoding.Runtime`` over the two graphs; a subclass runs them."""

    def __init__(self, feeds: StepFeeds) -> None:
        self._feeds = feeds

    @abstractmethod
    def _run_prefill(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The prefill graph's outputs: logits, then the state."""

    @abstractmethod
    def _run_step(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The step graph's outputs: logits, then the grown dynamic state."""

    def prefill(
        self, pixel_values: np.ndarray, prompt: np.ndarray
    ) -> tuple[np.ndarray, NumpyState]:
        logits, *state = self._run_prefill({"pixel_values": pixel_values, "input_ids": prompt})
        return logits, self._feeds.state(state)

    def step(self, tokens: np.ndarray, state: NumpyState) -> tuple[np.ndarray, NumpyState]:
        logits, *dynamic = self._run_step({"input_ids": tokens, **self._feeds.feeds(state)})
        return logits, DecoderState(state.static, dynamic)

    def select(self, state: NumpyState, rows: np.ndarray) -> NumpyState:
        return DecoderState(
            [array[rows] for array in state.static], [array[rows] for array in state.dynamic]
        )
