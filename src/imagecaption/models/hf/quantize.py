"""Int8 for the exported graphs: per-token activation scales for the prefill, 8-bit blocks for
the decoder step.

**Prefill** (the vision encoder, and the decoder over the whole prompt: hundreds of rows per
image, bound by arithmetic) uses our own rewrite, below.

onnxruntime's ``quantize_dynamic`` picks one activation scale for the whole input tensor, that is
for the whole batch: an image's caption would then depend on which other images shared its batch.
Here every MatMul with a constant weight becomes::

    scale = max|x| per row / 127                   (one scale per token)
    x_q   = QuantizeLinear(x / scale, 1, 128)      (uint8)
    y     = MatMulIntegerToFloat(x_q, w_q, 1, w_scale, 128) * scale

The integer product is exact and the scales multiply each output element on its own, so a row's
result never depends on the other rows: batching cannot change a caption. The two onnxruntime ops
each do in one pass what took three (round, shift and cast before the product; cast and two
multiplies after it): those elementwise passes took a quarter of the encoder's time.

Weights use 7 bits (|w_q| <= 63): without VNNI, onnxruntime multiplies uint8 by int8 with an
instruction that saturates 16-bit pair sums, and full 8-bit weights lose far more accuracy to that
than to the missing bit (about 2% worst-case error per layer instead of 10%, measured on random
matrices).

**Step** (one row per image, bound by reading the weights) uses ONNX Runtime's ``MatMulNBits``
with 8-bit weights in blocks of 32 and ``accuracy_level`` 4: the kernel quantises each row's
activations per block of 32 as it goes (so rows stay independent: batching still cannot change a
caption) and multiplies in int8. Measured on GIT-base, 2 cores with VNNI, interleaved: a batch-1
step 5.5 ms against 6.3 ms for the per-token rewrite (equal at batch 8), and on the trained
MiniLM of ``benchmarks/bench_int8_fidelity`` cosine with float32 0.9997 against 0.9966. In the
prefill the same kernel took twice as long as ``MatMulIntegerToFloat``, so each graph keeps the
scheme that is faster for it. 4-bit blocks made a step another fifth faster but moved the
trained model's outputs seven times as far (cosine 0.976, nearest neighbour kept 86%): not used.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WEIGHT_LEVELS = 63
ACTIVATION_LEVELS = 127
CONTRIB = "com.microsoft"
_CONSTANTS: dict[str, np.ndarray] = {
    "int8q/levels": np.array(ACTIVATION_LEVELS, dtype=np.float32),
    "int8q/tiny": np.array(1e-8, dtype=np.float32),
    "int8q/one": np.array(1.0, dtype=np.float32),
    "int8q/zero_point": np.array(128, dtype=np.uint8),
}


STEP_BITS = 8
STEP_BLOCK = 32
INT8_COMPUTE = 4
"""``accuracy_level`` 4: int8 products with per-block activation scales."""


def quantize_blocks(source: Path, destination: Path, bits: int = STEP_BITS) -> None:
    """Write a copy of ``source`` whose MatMul weights are blocks of ``bits`` (``MatMulNBits``);
    other widths than 8 are for the fidelity benchmark."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    logging.getLogger("onnxruntime.quantization").setLevel(logging.WARNING)  # a line per node
    quantizer = MatMulNBitsQuantizer(
        gemm_as_matmul(onnx.load(str(source))),
        bits=bits,
        block_size=STEP_BLOCK,
        is_symmetric=True,
        accuracy_level=INT8_COMPUTE,
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(destination), use_external_data_format=False)


def gemm_as_matmul(model: onnx.ModelProto) -> onnx.ModelProto:
    """Every ``Gemm`` with a constant weight matrix as ``MatMul`` then ``Add``, in place.

    Both quantisers look for MatMuls only, and GPT-2 writes its projections as ``Conv1D``
    (``addmm``), which the exporter turns into Gemm: without this, ViT+GPT-2's whole decoder
    stayed float32 in the "int8" export.
    """
    graph = model.graph
    weights = {t.name: t for t in graph.initializer if len(t.dims) == 2}
    nodes: list[onnx.NodeProto] = []
    replaced: dict[str, onnx.TensorProto] = {}
    for node in graph.node:
        options = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain = options.get("alpha", 1.0) == 1.0 and options.get("beta", 1.0) == 1.0
        weight = weights.get(node.input[1]) if node.op_type == "Gemm" else None
        if weight is None or not plain or options.get("transA", 0):
            nodes.append(node)
            continue
        name = weight.name
        if options.get("transB", 0):
            name = f"{weight.name}/transposed"
            if name not in replaced:
                replaced[name] = numpy_helper.from_array(numpy_helper.to_array(weight).T, name)
        product = f"{node.output[0]}/product" if len(node.input) > 2 else node.output[0]
        nodes.append(helper.make_node("MatMul", [node.input[0], name], [product], node.name))
        if len(node.input) > 2:
            bias = [product, node.input[2]]
            nodes.append(helper.make_node("Add", bias, [node.output[0]], f"{node.name}/bias"))
    graph.initializer.extend(replaced.values())
    del graph.node[:]
    graph.node.extend(nodes)
    if replaced:  # the untransposed originals are read by nothing now
        _drop_unused(graph)
    return model


def quantize_model(source: Path, destination: Path) -> int:
    """Write an int8 copy of ``source``; returns how many MatMuls were quantised."""
    model = gemm_as_matmul(onnx.load(str(source)))
    graph = model.graph
    weights = {
        tensor.name: tensor
        for tensor in graph.initializer
        if tensor.data_type == TensorProto.FLOAT and len(tensor.dims) == 2
    }
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
    done: dict[str, tuple[str, str]] = {}
    activations: dict[str, tuple[str, str]] = {}
    nodes: list[onnx.NodeProto] = []
    for index, node in enumerate(graph.node):
        weight = weights.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None:
            nodes.append(node)
            continue
        if weight.name not in done:
            done[weight.name] = _quantize_weight(graph, weight)
        x = node.input[0]
        if x not in activations:  # attention's query, key and value share one quantisation
            activations[x] = (f"int8q/{index}/scale", f"int8q/{index}/x_q")
            nodes.extend(_quantize_rows(x, f"int8q/{index}", opset, node.name))
        nodes.extend(_int8_matmul(node, *activations[x], *done[weight.name]))
    if done:
        graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in _CONSTANTS.items())
        if not any(o.domain == CONTRIB for o in model.opset_import):
            model.opset_import.append(helper.make_opsetid(CONTRIB, 1))
    del graph.node[:]
    graph.node.extend(nodes)
    _drop_unused(graph)
    onnx.save(model, str(destination))
    return len(done)


def _quantize_weight(graph: onnx.GraphProto, weight: onnx.TensorProto) -> tuple[str, str]:
    values = numpy_helper.to_array(weight).astype(np.float32)
    scale = np.abs(values).max(axis=0) / WEIGHT_LEVELS
    scale[scale == 0] = 1.0
    quantized = np.clip(np.round(values / scale), -WEIGHT_LEVELS, WEIGHT_LEVELS).astype(np.int8)
    names = (f"{weight.name}/int8", f"{weight.name}/scale")
    graph.initializer.extend(
        [
            numpy_helper.from_array(quantized, names[0]),
            numpy_helper.from_array(scale.astype(np.float32), names[1]),
        ]
    )
    return names


def _quantize_rows(x: str, prefix: str, opset: int, owner: str) -> list[onnx.NodeProto]:
    """``{prefix}/scale`` (one per row, shaped like ``x`` with a last axis of 1) and
    ``{prefix}/x_q`` (``x`` as uint8 around 128).

    QuantizeLinear takes one scale per slice along a single axis, and rows span two (batch and
    token), so the rows are divided by their scale first and quantised with a scale of 1.
    """

    def name(step: str) -> str:
        return f"{prefix}/{step}"

    def node(op: str, inputs: list[str], output: str, **attributes: Any) -> onnx.NodeProto:
        # Named after the MatMul they feed, so that a profile says which layer the time is in.
        return helper.make_node(
            op, inputs, [name(output)], f"{owner}/quantize/{output}", **attributes
        )

    if opset >= 18:  # ReduceMax took its axes as an attribute before opset 18
        reduce = [
            node("Constant", [], "axes", value_ints=[-1]),
            node("ReduceMax", [name("abs"), name("axes")], "max"),
        ]
    else:
        reduce = [node("ReduceMax", [name("abs")], "max", axes=[-1])]
    return [
        node("Abs", [x], "abs"),
        *reduce,
        node("Max", [name("max"), "int8q/tiny"], "safe"),
        node("Div", [name("safe"), "int8q/levels"], "scale"),
        node("Div", [x, name("scale")], "scaled"),
        node("QuantizeLinear", [name("scaled"), "int8q/one", "int8q/zero_point"], "x_q"),
    ]


def _int8_matmul(
    node: onnx.NodeProto, scale: str, x_q: str, weight: str, weight_scale: str
) -> list[onnx.NodeProto]:
    y = node.output[0]
    return [
        helper.make_node(
            "MatMulIntegerToFloat",
            [x_q, weight, "int8q/one", weight_scale, "int8q/zero_point"],
            [f"{y}/columns"],
            f"{node.name}/int8",
            domain=CONTRIB,
        ),
        helper.make_node("Mul", [f"{y}/columns", scale], [y], f"{node.name}/rescale"),
    ]


def _drop_unused(graph: onnx.GraphProto) -> None:
    used = Counter(name for node in graph.node for name in node.input)
    used.update(output.name for output in graph.output)
    kept = [tensor for tensor in graph.initializer if used[tensor.name]]
    del graph.initializer[:]
    graph.initializer.extend(kept)
