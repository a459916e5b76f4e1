"""Store an ONNX model's weights as float16 while it still computes in float32.

(Not named ``float16``: onnxruntime's quantization tools import a module of that name.)

Each large float32 initializer is replaced by a float16 copy and a Cast back to float32.
onnxruntime folds those Casts into constants when it creates the session, so inference runs the
same float32 kernels at the same speed; only the file (and the package) is half the size. The
rounding is that of float16 (11 significant bits), which the callers check against the original
framework.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Small tensors (biases, scales, shape constants) are not worth a Cast node each.
MIN_ELEMENTS = 1024
FLOAT16_MAX = float(np.finfo(np.float16).max)


def compact(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose large float32 initializers are stored as float16."""
    compacted = onnx.ModelProto()
    compacted.CopyFrom(model)
    graph = compacted.graph
    graph_inputs = {value.name for value in graph.input}
    casts = []
    kept = []
    for initializer in graph.initializer:
        values = numpy_helper.to_array(initializer)
        if (
            initializer.data_type != TensorProto.FLOAT
            or values.size < MIN_ELEMENTS
            or initializer.name in graph_inputs
            or np.abs(values).max() > FLOAT16_MAX
        ):
            kept.append(initializer)
            continue
        stored = f"{initializer.name}__float16"
        kept.append(numpy_helper.from_array(values.astype(np.float16), stored))
        casts.append(
            helper.make_node(
                "Cast",
                [stored],
                [initializer.name],
                to=TensorProto.FLOAT,
                name=f"{initializer.name}__to_float32",
            )
        )
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = [*casts, *graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(compacted)
    return compacted
