"""The prefill in bfloat16 on OpenVINO, the decoder steps in int8 on ONNX Runtime.

On CPUs with AMX (Intel Sapphire Rapids and later) the two calls of a caption are bound by
different things. The prefill (the vision encoder, and the decoder over the prompt: hundreds of
rows per image) is arithmetic, and OpenVINO runs it on AMX's bfloat16 tiles from the float32
export; ONNX Runtime's int8 prefill reaches AMX's int8 tiles only in its matrix products, while
the per-token quantisation around them stays AVX-512 work. Each step (one row per image) is
bound by reading the weights, where int8 blocks read half of bfloat16's bytes. Measured on
GIT-base on a 2-core Xeon with AMX, model only: prefill 79 against 96 ms at batch 1 and 432
against 644 ms at batch 8; OpenVINO's bfloat16 steps were slower than ONNX Runtime's int8 ones
(10.1 against 6.4 ms).

Both graphs come from the same export (``onnx_backend``): the float32 prefill for OpenVINO, the
int8 step for ONNX Runtime; the prefill's outputs are matched to the step's state by name.
bfloat16 keeps 8 bits of mantissa: the prefill's logits stayed closer to float32 than the int8
prefill's (cosine 0.99996 against 0.9993 on GIT-base with random weights). The captions are not
those of the int8 prefill token for token, which is why this is a setting
(``prefill_runtime``) and not what ``auto`` picks: an exported folder served by the base install
would caption differently from the same model in the models install.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from imagecaption.models.hf.onnx_graphs import Export, OnnxRuntime
from imagecaption.models.hf.openvino_backend import compile_options


class Bf16PrefillRuntime(OnnxRuntime):
    """``OnnxRuntime`` whose prefill is the float32 graph compiled by OpenVINO in bfloat16."""

    def __init__(
        self, export: Export, float_prefill: Path, threads: int, *, spin: bool = False
    ) -> None:
        self._float_prefill = float_prefill
        super().__init__(export, threads, spin=spin)

    def _open_prefill(self, export: Export, threads: int, spin: bool) -> None:
        """The float32 graph compiled by OpenVINO; the int8 prefill is never opened."""
        import openvino as ov

        core = ov.Core()
        model = core.read_model(str(self._float_prefill))
        by_name = {
            name: index for index, port in enumerate(model.outputs) for name in port.get_names()
        }
        options = {**compile_options(threads), "INFERENCE_PRECISION_HINT": "bf16"}
        compiled = core.compile_model(model, "CPU", options)
        wanted = export.prefill_outputs
        missing = [name for name in wanted if name not in by_name]
        if missing:
            raise ValueError(f"the float32 prefill lacks outputs {', '.join(missing)}")
        self._order = [by_name[name] for name in wanted]
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()

    def _run_prefill(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        contiguous = {name: np.ascontiguousarray(value) for name, value in inputs.items()}
        with self._lock:
            results = self._request.infer(contiguous).to_tuple()
            # Copies: the request's output buffers are reused by its next call.
            return [np.array(results[index]) for index in self._order]
