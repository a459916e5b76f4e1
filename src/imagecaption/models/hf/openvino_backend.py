"""The OpenVINO backend: the onnx backend's float32 graphs, run by OpenVINO's CPU plugin.

The prefill and step graphs are exported exactly as for onnxruntime (``onnx_backend``), read by
OpenVINO, and saved once as OpenVINO models under the same kind of cache key, so a restart
reuses them and any change of the model files, the libraries or the options rebuilds them.

With ``quantize``, every weight matrix is stored as int8 per output channel with a zero point
(NNCF's ``INT8_ASYM`` weight compression), and OpenVINO's CPU plugin multiplies them with
activations it quantises on the fly per token, in groups of 32 channels
(``DYNAMIC_QUANTIZATION_GROUP_SIZE``). A row's scales come from that row alone, so a caption does
not depend on the other images of its batch. On a trained transformer (all-MiniLM-L6-v2, 2,000
sentences, as ``benchmarks/bench_int8_fidelity`` measures) this stays closer to float32 than the
onnx backend's int8: cosine mean 0.9995 / min 0.9991, nearest neighbour kept for 98.1% of the
sentences, against 0.9966 / 0.9940 / 93.4%. ``INT8_SYM`` measured 0.9994 / 0.9988 / 97.0% at the
same speed. Static activation quantisation (``nncf.quantize``, calibrated scales) made GIT-base's
prefill about 1.4x faster than the onnx int8 at batch 8, but fell to 0.9946 / 0.9757 / 89.6% on
the trained model and needs calibration pictures that a server does not have: not used.

Model-only times for GIT-base on 2 AVX-512/VNNI cores, 2 threads, interleaved runs (best of 10,
prefill batch 1 / 8, step with a 200-token cache batch 1 / 8, in ms): onnx int8 113 / 867 /
5.3 / 11.6; this backend's int8 145 / 994 / 5.5 / 16.6; onnx float32 and this backend's float32
were within noise of each other on the prefill (645 / 4694 and 688 / 4473, medians), and its
steps slower (14.1 / 30.3 against 24.3 / 55.2). Whole 20-token captions through the captioner
(best of 6, batch 1 / 8): onnx int8 206 / 1071 ms, this backend's int8 246 / 1288 ms, onnx
float32 476 / 2472 ms, this backend's float32 485 / 2466 ms. So on such a CPU this backend is the
more faithful int8, not the faster one, and ``auto`` keeps choosing onnx.

NNCF reports usage to an analytics service unless ``NNCF_CI`` is set; a self-hosted service must
not call out, so it is set before NNCF is imported. ``openvino.convert_model`` would do the same,
so the ONNX graphs are read by ``Core.read_model``, which does not.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import threading
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from imagecaption.models.hf.architectures import Architecture
from imagecaption.models.hf.folder import Processors
from imagecaption.models.hf.graph_runtime import GraphRuntime, StepFeeds
from imagecaption.models.hf.onnx_backend import (
    build_once,
    export_key,
    load_or_export,
)
from imagecaption.models.hf.spec import ModelSpec

log = logging.getLogger(__name__)

CONVERSION_FORMAT = 1
"""Bump when the conversion or the weight compression changes, so caches are rebuilt."""


def conversion_key(folder: Path, quantize: bool) -> str:
    """The onnx export's key (model files and exporting libraries) plus OpenVINO's own."""
    parts = [CONVERSION_FORMAT, export_key(folder, False), quantize]
    parts += [version(name) for name in ("openvino", "nncf")]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def load_or_convert(
    folder: Path,
    architecture: Architecture,
    processors: Processors,
    cache_root: Path,
    quantize: bool,
) -> Path:
    """The folder of the converted model, made once."""
    precision = "int8" if quantize else "fp32"
    return build_once(
        cache_root / f"{folder.name}-{precision}-{conversion_key(folder, quantize)}",
        lambda work: _convert(folder, architecture, processors, work, quantize),
        "converting the model to OpenVINO",
    )


def _convert(
    folder: Path, architecture: Architecture, processors: Processors, work: Path, quantize: bool
) -> None:
    import openvino as ov

    # The float32 ONNX export is only a step on the way: made inside the work folder, so it goes
    # with it instead of doubling the model's size on disk.
    export = load_or_export(folder, architecture, processors, work / "onnx", quantize=False)
    core = ov.Core()
    for graph in ("prefill", "step"):
        model = core.read_model(str(export.folder / f"{graph}.onnx"))
        if quantize:
            model = _compress_weights(model)
        # Weights stay float32 (OpenVINO would store them as float16 by default).
        ov.save_model(model, str(work / f"{graph}.xml"), compress_to_fp16=False)
    shutil.copy(export.folder / "spec.json", work / "spec.json")
    shutil.copy(export.folder / "export.json", work / "export.json")
    shutil.rmtree(work / "onnx")


def _compress_weights(model: Any) -> Any:
    os.environ.setdefault("NNCF_CI", "1")  # no usage reports (see the module's docstring)
    import nncf

    # Only the logger's own level: nncf.set_log_level also sets the level of every handler on
    # NNCF's logger, and those can be the process's own (they were pytest's capture handlers,
    # which then dropped every warning of the tests that followed).
    logging.getLogger("nncf").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()):  # its progress bar, in the server's log
        return nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)


def compile_options(threads: int) -> dict[str, Any]:
    """OpenVINO's own latency settings: one request at a time, on ``threads`` cores, in
    float32 (its bfloat16 on AVX-512 cores changes the numbers more than int8 weights do)."""
    options: dict[str, Any] = {
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        "INFERENCE_PRECISION_HINT": "f32",
    }
    if threads:
        options["INFERENCE_NUM_THREADS"] = threads
    return options


class OpenVinoRuntime(GraphRuntime):
    """Prefill and step on two compiled models; each keeps one inference request, used by one
    batch at a time (the lock only guards against a caller that would overlap them)."""

    def __init__(self, converted: Path, threads: int) -> None:
        import openvino as ov

        core = ov.Core()
        options = compile_options(threads)
        prefill = core.compile_model(str(converted / "prefill.xml"), "CPU", options)
        step = core.compile_model(str(converted / "step.xml"), "CPU", options)
        self._prefill = prefill.create_infer_request()
        self._step = step.create_infer_request()
        self._lock = threading.Lock()
        layout = json.loads((converted / "export.json").read_text())
        accepted = {name for port in step.inputs for name in port.get_names()}
        super().__init__(StepFeeds.declared(layout["static"], layout["dynamic"], accepted))

    def _run(self, request: Any, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        inputs = {name: np.ascontiguousarray(value) for name, value in inputs.items()}
        with self._lock:
            results = request.infer(inputs, share_inputs=True)
        return [np.asarray(value) for value in results.to_tuple()]

    def _run_prefill(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self._run(self._prefill, inputs)

    def _run_step(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self._run(self._step, inputs)


class OpenVinoBackend:
    name = "openvino"
    device = "cpu"

    def __init__(self, cache_root: Path, quantize: bool = True, threads: int = 0) -> None:
        self._cache_root = cache_root
        self._quantize = quantize
        self._threads = threads

    def open(
        self, folder: Path, architecture: Architecture, processors: Processors
    ) -> tuple[OpenVinoRuntime, ModelSpec]:
        converted = load_or_convert(
            folder, architecture, processors, self._cache_root, self._quantize
        )
        return OpenVinoRuntime(converted, self._threads), ModelSpec.load(converted / "spec.json")
