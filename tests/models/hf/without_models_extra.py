"""``imagecaption`` as the base install runs it: the models extra's packages are hidden.

``python -m tests.models.hf.without_models_extra serve ...`` behaves as if torch, transformers,
safetensors, onnx and the OpenVINO packages were not installed: importing one fails and
``importlib.util.find_spec`` finds none (a ``None`` entry in ``sys.modules`` does both), so the
server takes the base install's paths. The server is otherwise the real one.
"""

from __future__ import annotations

import sys

HIDDEN = (
    "torch",
    "torchvision",
    "transformers",
    "safetensors",
    "onnx",
    "onnx_ir",
    "openvino",
    "nncf",
)


if __name__ == "__main__":
    for name in HIDDEN:
        sys.modules[name] = None  # type: ignore[assignment]
    from imagecaption.cli import main

    main()
