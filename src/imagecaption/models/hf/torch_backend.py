"""The PyTorch backend: the model's own modules, eagerly, on the CPU or a CUDA GPU.

On a GPU it runs in half precision by default (what these models are served in); on a CPU in
float32, with torch using the configured number of threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from imagecaption.models.base import ModelError
from imagecaption.models.hf.architectures import Architecture, Model
from imagecaption.models.hf.decoding import DecoderState
from imagecaption.models.hf.folder import Processors, load_weights
from imagecaption.models.hf.graphs import PrefillGraph, StepGraph
from imagecaption.models.hf.spec import ModelSpec, describe

TorchState = DecoderState[torch.Tensor]
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(setting: str) -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting == "cuda" and not torch.cuda.is_available():
        raise ModelError("device is set to cuda, but torch sees no CUDA GPU on this machine.")
    return torch.device(setting)


def resolve_dtype(setting: str, device: torch.device) -> torch.dtype:
    if setting == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    return DTYPES[setting]


class TorchRuntime:
    """Runs the prefill and step graphs eagerly; the cache stays on the device between steps."""

    def __init__(self, model: Model, architecture: Architecture) -> None:
        self._prefill = PrefillGraph(model, architecture)
        self._step = StepGraph(model, architecture)
        parameter = next(model.parameters())
        self._device, self._dtype = parameter.device, parameter.dtype

    def prefill(
        self, pixel_values: np.ndarray, prompt: np.ndarray
    ) -> tuple[np.ndarray, TorchState]:
        with torch.inference_mode():
            logits, static, dynamic = self._prefill.run(
                torch.from_numpy(pixel_values).to(self._device, self._dtype),
                torch.from_numpy(prompt).to(self._device),
            )
        return _numpy(logits), DecoderState(static, dynamic)

    def step(self, tokens: np.ndarray, state: TorchState) -> tuple[np.ndarray, TorchState]:
        with torch.inference_mode():
            logits, dynamic = self._step.run(
                torch.from_numpy(tokens).to(self._device), state.static, state.dynamic
            )
        return _numpy(logits), DecoderState(state.static, dynamic)

    def select(self, state: TorchState, rows: np.ndarray) -> TorchState:
        index = torch.from_numpy(rows).to(self._device)
        return DecoderState(
            [tensor.index_select(0, index) for tensor in state.static],
            [tensor.index_select(0, index) for tensor in state.dynamic],
        )


def _numpy(logits: torch.Tensor) -> np.ndarray:
    array: np.ndarray = logits.float().cpu().numpy()
    return array


class TorchBackend:
    name = "torch"

    def __init__(self, device: str = "auto", dtype: str = "auto", threads: int = 0) -> None:
        self._device = resolve_device(device)
        self._dtype = resolve_dtype(dtype, self._device)
        self._threads = threads

    @property
    def device(self) -> str:
        return self._device.type

    def open(
        self, folder: Path, architecture: Architecture, processors: Processors
    ) -> tuple[TorchRuntime, ModelSpec]:
        if self._device.type == "cpu" and self._threads:
            torch.set_num_threads(self._threads)
        model = load_weights(folder, architecture, self._dtype).to(self._device)
        return TorchRuntime(model, architecture), describe(model, architecture, processors.full)
