"""The ONNX export: same tokens as torch in float32 (on ONNX Runtime and on OpenVINO), cached,
and a batch-independent int8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from imagecaption.models.base import CaptionOptions
from imagecaption.models.hf.decoding import decode
from imagecaption.models.hf.folder import check_folder, load_processors
from imagecaption.models.hf.onnx_backend import OnnxBackend
from imagecaption.models.hf.openvino_backend import OpenVinoBackend
from imagecaption.models.hf.quantize import quantize_blocks, quantize_model
from imagecaption.models.hf.torch_backend import TorchBackend
from tests.models.hf.conftest import ARCHITECTURES, Captioners, Folders

FLOAT32_RUNTIMES = {
    "onnx": lambda cache: OnnxBackend(cache, False, 2),
    "openvino": lambda cache: OpenVinoBackend(cache / "openvino", False, 2),
}
"""The runtimes of the exported graphs, each in float32: both must write torch's tokens."""


@pytest.mark.parametrize("runtime", sorted(FLOAT32_RUNTIMES))
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_float32_export_decodes_the_same_tokens_as_torch(
    folders: Folders,
    export_cache: Path,
    architecture: str,
    runtime: str,
    images: list[Image.Image],
) -> None:
    folder = folders(architecture)
    kind = check_folder(folder)
    processors = load_processors(folder, kind)
    pixels = processors.image(images=images, return_tensors="np")["pixel_values"]
    results = []
    backends = (TorchBackend(device="cpu", threads=2), FLOAT32_RUNTIMES[runtime](export_cache))
    for backend in backends:
        graphs, spec = backend.open(folder, kind, processors)
        prompt = np.tile(np.array(spec.prompts["brief"]), (len(images), 1))
        for options in (CaptionOptions(max_length=12), CaptionOptions(num_captions=2)):
            hypotheses = decode(graphs, pixels, prompt, spec.generation(options))
            results.append([[h.tokens for h in found] for found in hypotheses])
    assert results[:2] == results[2:]


INT8_RUNTIMES = {
    "onnx": (lambda cache: cache, OnnxBackend, True),
    "openvino": (lambda cache: cache / "openvino", OpenVinoBackend, False),
}
"""Where each int8 runtime keeps its models, its backend, and whether the ONNX graphs stay."""


@pytest.mark.parametrize("runtime", sorted(INT8_RUNTIMES))
def test_an_export_is_made_once_and_reused(
    captioners: Captioners, export_cache: Path, folders: Folders, runtime: str
) -> None:
    place, backend, keeps_onnx = INT8_RUNTIMES[runtime]
    assert captioners("git", f"{runtime}-int8").info.backend == runtime  # made by now
    cache = place(export_cache)
    folder = folders("git")
    pattern = f"{folder.name}-int8-*/export.json"
    exports = sorted(cache.glob(pattern))
    assert len(exports) == 1
    made = exports[0].stat().st_mtime_ns
    kind = check_folder(folder)
    backend(cache, True, 2).open(folder, kind, load_processors(folder, kind))
    assert sorted(cache.glob(pattern)) == exports
    assert exports[0].stat().st_mtime_ns == made
    assert not list(cache.glob(".build-*"))  # no half-written exports left behind
    # OpenVINO keeps its own models only, not the ONNX step it converted them from
    assert bool(list(exports[0].parent.glob("**/*.onnx"))) is keeps_onnx


@pytest.mark.parametrize("architecture", ["blip", "vision_encoder_decoder"])
def test_int8_graphs_hold_no_float_matmul_weights(
    captioners: Captioners, export_cache: Path, folders: Folders, architecture: str
) -> None:
    """GPT-2 (in ViT+GPT-2) writes its projections as Gemm, the others as MatMul: neither kind
    may keep a float32 weight matrix."""
    assert captioners(architecture, "onnx-int8").info.backend == "onnx"
    (export,) = export_cache.glob(f"{folders(architecture).name}-int8-*")
    for graph, int8_op in (("prefill.onnx", "MatMulIntegerToFloat"), ("step.onnx", "MatMulNBits")):
        model = onnx.load(str(export / graph))
        weights = {t.name for t in model.graph.initializer if len(t.dims) == 2}
        products = ("MatMul", "Gemm")
        left = [n for n in model.graph.node if n.op_type in products and n.input[1] in weights]
        assert not left
        int8 = [n for n in model.graph.node if n.op_type == int8_op]
        assert int8
        if int8_op == "MatMulNBits":
            assert {a.i for n in int8 for a in n.attribute if a.name == "bits"} == {8}


def _linear_graph(path: Path, weight: np.ndarray) -> None:
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    graph = helper.make_graph(
        [node],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", weight.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", weight.shape[1]])],
        [numpy_helper.from_array(weight, "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.mark.parametrize("scheme", ["per-token", "blocks"])
def test_int8_rows_do_not_depend_on_their_batch(tmp_path: Path, scheme: str) -> None:
    """Activation scales per token (prefill) or per block of a row (step): a row's result is
    the same alone or beside huge rows."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((64, 48)).astype(np.float32)
    _linear_graph(tmp_path / "float.onnx", weight)
    if scheme == "per-token":
        assert quantize_model(tmp_path / "float.onnx", tmp_path / "int8.onnx") == 1
    else:
        quantize_blocks(tmp_path / "float.onnx", tmp_path / "int8.onnx")
    session = ort.InferenceSession(str(tmp_path / "int8.onnx"), providers=["CPUExecutionProvider"])
    rows = rng.standard_normal((4, 64)).astype(np.float32)
    rows[1:] *= 100
    together = session.run(None, {"x": rows})[0]
    alone = session.run(None, {"x": rows[:1]})[0]
    assert np.array_equal(together[0], alone[0])
    exact = rows @ weight
    error = np.abs(together - exact).max(axis=1) / np.abs(exact).max(axis=1)
    assert error.max() < 0.05
