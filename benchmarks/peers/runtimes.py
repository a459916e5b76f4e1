"""Each peer runtime configured as its own documentation recommends for speed on a CPU.

Runs in the peers' environment (transformers 4.57). A peer is asked first whether it supports
the architecture, in its own words (Optimum's exporter registry, CTranslate2's and ONNX Runtime
GenAI's converters); only then is the model exported, once, into the worker's folder.

- Optimum ONNX Runtime: ``ORTModelForVision2Seq.from_pretrained(export=True)``; its int8 path is
  ``ORTQuantizer`` with ``AutoQuantizationConfig.<this CPU's instruction set>(is_static=False,
  per_channel=False)`` on every ONNX file (encoder and decoders), as in Optimum's quickstart.
- OpenVINO through optimum-intel: ``OVModelForVision2Seq.from_pretrained(export=True)``; float32
  sets ``INFERENCE_PRECISION_HINT`` to f32 (OpenVINO's default is bf16 on CPUs with AVX-512 BF16
  or AMX); ``openvino-default`` keeps the default hint; int8 is weight compression
  (``OVWeightQuantizationConfig(bits=8)``, the ``--weight-format int8`` of optimum-cli) with the
  default hint. optimum-intel's support matrix offers full (static) quantisation for neither
  image-to-text nor ``OVModelForVision2Seq``, so there is no static int8 captioner.
- CTranslate2 (``ct2-transformers-converter``, int8) and ONNX Runtime GenAI (its model builder,
  int4 for the CPU, as its docs recommend): only their converters are tried; where they refuse,
  their own reason is reported.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Caption = Callable[[bytes], object]
"""One image's JPEG bytes in, ``generate()``'s output out."""


class Unsupported(Exception):
    """The peer cannot run the architecture; the message is the peer's own reason."""


@dataclass(frozen=True)
class Prepared:
    """A loaded peer: how to caption from one thread, what precision it really runs, and what
    the one-time export and quantisation cost."""

    caption_in_thread: Callable[[], Caption]
    """A captioner for the calling thread (one per thread where the runtime needs it)."""
    precision: str
    export_seconds: float


def cpu_flags() -> set[str]:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for row in info:
            if row.startswith("flags"):
                return set(row.split(":", 1)[1].split())
    return set()


def _task_support(folder: Path, exporter: str) -> None:
    """Optimum's exporter registry decides, for ORT and OpenVINO alike."""
    import transformers as tf
    from optimum.exporters.tasks import TasksManager

    # Importing an exporter's model configs registers them with the TasksManager.
    importlib.import_module(f"optimum.exporters.{exporter}.model_configs")

    model_type = tf.AutoConfig.from_pretrained(folder).model_type.replace("_", "-")
    try:
        tasks = TasksManager.get_supported_tasks_for_model_type(
            model_type, exporter=exporter, library_name="transformers"
        )
    except KeyError as error:
        reason = str(error).strip("'\"").split(" Only [")[0]
        raise Unsupported(f"{reason} (optimum {exporter} exporter)") from error
    if "image-to-text" not in tasks:
        raise Unsupported(f"{model_type}: no image-to-text task, only {sorted(tasks)}")


def _generate_call(model: Any, folder: Path) -> Caption:
    """What the plain script does per image: the processor, then ``generate()``."""
    import torch
    import transformers as tf
    from PIL import Image

    processor = tf.AutoImageProcessor.from_pretrained(folder)  # type: ignore[no-untyped-call]

    def caption(data: bytes) -> object:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        inputs = processor(images=image, return_tensors="pt")
        with torch.inference_mode():
            return model.generate(pixel_values=inputs["pixel_values"], do_sample=False)

    return caption


def _timed(export: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = export()
    return result, time.perf_counter() - started


def ort_quantization_config(flags: set[str]) -> tuple[Any, str]:
    """Optimum's dynamic int8 configuration for this CPU's best instruction set."""
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    for flag, name in (("avx512_vnni", "avx512_vnni"), ("avx512f", "avx512"), ("avx2", "avx2")):
        if flag in flags:
            return getattr(AutoQuantizationConfig, name)(is_static=False, per_channel=False), name
    return AutoQuantizationConfig.arm64(is_static=False, per_channel=False), "arm64"


def quantize_onnx_folder(exported: Path, destination: Path) -> dict[str, str]:
    """Every ONNX file of an Optimum export through ORTQuantizer; the other files copied.

    Returns the quantised file name of each original file name.
    """
    from optimum.onnxruntime import ORTQuantizer

    config, _ = ort_quantization_config(cpu_flags())
    destination.mkdir(parents=True, exist_ok=True)
    renamed = {}
    for path in sorted(exported.iterdir()):
        if path.suffix == ".onnx":
            quantizer = ORTQuantizer.from_pretrained(exported, file_name=path.name)
            quantizer.quantize(save_dir=destination, quantization_config=config)
            renamed[path.name] = f"{path.stem}_quantized.onnx"
        elif path.is_file() and not (destination / path.name).exists():
            shutil.copy2(path, destination / path.name)
    return renamed


def _optimum_ort(folder: Path, work: Path, int8: bool) -> Prepared:
    _task_support(folder, "onnx")
    from optimum.onnxruntime import ORTModelForVision2Seq

    def export() -> Any:
        exported = work / "onnx"
        ORTModelForVision2Seq.from_pretrained(folder, export=True).save_pretrained(exported)
        if not int8:
            return ORTModelForVision2Seq.from_pretrained(exported)
        renamed = quantize_onnx_folder(exported, work / "onnx-int8")
        names = {
            "encoder_file_name": renamed.get("encoder_model.onnx"),
            "decoder_file_name": renamed.get("decoder_model_merged.onnx")
            or renamed.get("decoder_model.onnx"),
            "decoder_with_past_file_name": renamed.get("decoder_with_past_model.onnx"),
        }
        return ORTModelForVision2Seq.from_pretrained(
            work / "onnx-int8", **{key: name for key, name in names.items() if name}
        )

    model, seconds = _timed(export)
    caption = _generate_call(model, folder)
    instructions = ort_quantization_config(cpu_flags())[1]
    precision = f"int8 dynamic ({instructions})" if int8 else "float32"
    return Prepared(lambda: caption, precision, seconds)


def openvino_precision_hint() -> str:
    import openvino as ov

    hint = ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT")
    return str(hint.get_type_name())  # "bf16", "f32", "f16"


def _compiled_precision(model: Any) -> str:
    """What OpenVINO really compiled each part for, read back from the compiled models."""
    found = []
    for name in ("encoder", "decoder", "decoder_with_past"):
        part = getattr(model, name, None)
        if part is None:
            continue
        part.compile()
        request = part.request
        compiled = (
            request if hasattr(request, "create_infer_request") else request.get_compiled_model()
        )
        found.append(str(compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()))
    return "/".join(sorted(set(found)))


def _self_attention_cache_only(model: Any) -> None:
    """Works around optimum-intel 1.27's cache handling for decoders that return only their
    self-attention keys and values (GPT-2 with cross-attention, which recomputes the
    cross-attention from ``encoder_hidden_states`` at every step).

    ``OVDecoder`` assumes four cache tensors per layer (self- and cross-attention): it groups the
    24 outputs of ViT+GPT-2's first decoder call in fours and, after each cached call, appends
    two of the *previous* step's tensors to each layer's pair. From the second cached step on,
    layer 1 is handed layer 2's stale keys, and OpenVINO's CPU plugin stops on the mismatched
    shapes ("Eltwise shape infer ... dim index: 3 mismatch"). optimum-intel 2.0 groups by the
    outputs the decoder really has; this does the same for 1.27 (2.x cannot share the peers'
    environment: it needs optimum 2.2 or later, Optimum ONNX Runtime 0.1 needs optimum 2.1).
    Only applied where the exported decoder has no cross-attention outputs.
    """
    decoder, with_past = model.decoder, getattr(model, "decoder_with_past", None)
    if with_past is None or any("encoder" in name for name in decoder.key_value_output_names):
        return
    decoder.num_pkv = 2
    forward = type(with_past).forward

    def grouped_in_pairs(*args: Any, **kwargs: Any) -> Any:
        output = forward(with_past, *args, **kwargs)
        output.past_key_values = tuple(layer[:2] for layer in output.past_key_values)
        return output

    with_past.forward = grouped_in_pairs


def _per_thread_requests(model: Any) -> Any:
    """A shallow copy of an optimum-intel seq2seq model with its own inference requests.

    OpenVINO's compiled models are shared between threads and each thread runs its own
    ``InferRequest`` (OpenVINO's way to serve concurrent calls); optimum-intel keeps one request
    per sub-model, so the copy gets fresh ones over the same compiled models, without a second
    compilation or a second copy of the weights.
    """
    import copy

    clone = copy.copy(model)
    for name in ("encoder", "decoder", "decoder_with_past"):
        part = getattr(model, name, None)
        if part is None:
            continue
        twin = copy.copy(part)
        compiled = part.request if name == "encoder" else part.request.get_compiled_model()
        request = compiled.create_infer_request()
        twin.request = request.infer if name == "encoder" else request
        setattr(clone, name, twin)
    _self_attention_cache_only(clone)  # rebinds the workaround to the clone's own requests
    return clone


def _openvino(folder: Path, work: Path, precision: str) -> Prepared:
    _task_support(folder, "openvino")
    from optimum.intel import OVModelForVision2Seq, OVWeightQuantizationConfig

    default_hint = openvino_precision_hint()
    config = {"PERFORMANCE_HINT": "LATENCY"}  # optimum-intel's own default, stated
    if precision == "f32" and default_hint != "f32":
        config["INFERENCE_PRECISION_HINT"] = "f32"
    quantization = OVWeightQuantizationConfig(bits=8) if precision == "int8" else None

    def export() -> Any:
        exported = work / "openvino"
        OVModelForVision2Seq.from_pretrained(
            folder, export=True, quantization_config=quantization, compile=False
        ).save_pretrained(exported)
        return OVModelForVision2Seq.from_pretrained(exported, ov_config=config)

    model, seconds = _timed(export)
    _self_attention_cache_only(model)
    local = threading.local()
    first = threading.get_ident()

    def in_thread() -> Caption:
        if not hasattr(local, "caption"):
            own = model if threading.get_ident() == first else _per_thread_requests(model)
            local.caption = _generate_call(own, folder)
        caption: Caption = local.caption
        return caption

    hint = _compiled_precision(model)
    label = {"f32": "float32", "default": "default", "int8": "int8 weights"}[precision]
    return Prepared(in_thread, f"{label} (inference precision {hint})", seconds)


def _converter_output(command: list[str]) -> str:
    """The last line a converter printed: its own reason when it refuses."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return ""
    # A traceback ends in the exception, on stderr; what the tool printed on stdout before it
    # failed (ONNX Runtime GenAI's builder echoes its options) says nothing of why.
    for stream in (done.stderr, done.stdout):
        lines = [line for line in stream.splitlines() if line.strip()]
        if lines:
            return lines[-1].strip()
    return f"exit status {done.returncode}"


def _ctranslate2(folder: Path, work: Path) -> Prepared:
    reason = _converter_output(
        [
            str(Path(sys.executable).with_name("ct2-transformers-converter")),
            *("--model", str(folder), "--output_dir", str(work / "ct2")),
            *("--quantization", "int8", "--force"),
        ]
    )
    if reason:
        raise Unsupported(f"ct2-transformers-converter: {reason}")
    raise Unsupported("converted, but CTranslate2 has no image-to-text generator for it")


def _genai(folder: Path, work: Path) -> Prepared:
    reason = _converter_output(
        [
            sys.executable,
            *("-m", "onnxruntime_genai.models.builder", "-i", str(folder)),
            *("-o", str(work / "genai"), "-p", "int4", "-e", "cpu"),
        ]
    )
    if reason:
        raise Unsupported(f"onnxruntime_genai.models.builder: {reason}")
    raise Unsupported("converted, but ONNX Runtime GenAI has no image-to-text pipeline for it")


PEERS: dict[str, Callable[[Path, Path], Prepared]] = {
    "optimum-ort": lambda folder, work: _optimum_ort(folder, work, int8=False),
    "optimum-ort-int8": lambda folder, work: _optimum_ort(folder, work, int8=True),
    "openvino": lambda folder, work: _openvino(folder, work, "f32"),
    "openvino-default": lambda folder, work: _openvino(folder, work, "default"),
    "openvino-int8": lambda folder, work: _openvino(folder, work, "int8"),
    "ctranslate2": _ctranslate2,
    "onnxruntime-genai": _genai,
}
