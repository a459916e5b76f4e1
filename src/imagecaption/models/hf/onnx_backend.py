"""The onnxruntime backend: the prefill and step graphs exported once, optionally int8, then
served without torch in the request path.

The export is cached under a key made of the model files, the library versions and the options,
so a restart reuses it and any change rebuilds it. It is written to a temporary folder and
renamed into place, so an interrupted export never leaves a half-written model behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from imagecaption.models.hf.architectures import Architecture
from imagecaption.models.hf.folder import Processors, load_weights
from imagecaption.models.hf.graphs import PrefillGraph, StepGraph
from imagecaption.models.hf.onnx_graphs import Export, OnnxRuntime
from imagecaption.models.hf.quantize import quantize_blocks, quantize_model
from imagecaption.models.hf.spec import ModelSpec, describe

log = logging.getLogger(__name__)

EXPORT_FORMAT = 6
"""Bump when the exported graphs or the quantisation change, so caches are rebuilt."""
OPSET = 17


def export_key(folder: Path, quantize: bool) -> str:
    """Changes whenever the model files, the exporting libraries or the options change."""
    digest = hashlib.sha256()
    parts: list[object] = [EXPORT_FORMAT, quantize, str(folder.resolve())]
    parts += [version(name) for name in ("torch", "transformers", "onnxruntime", "onnx")]
    for file in sorted(folder.iterdir()):
        if file.is_file():
            stat = file.stat()
            parts += [file.name, stat.st_size, stat.st_mtime_ns]
    digest.update(json.dumps(parts).encode())
    return digest.hexdigest()[:16]


def build_once(target: Path, build: Callable[[Path], None], what: str) -> Path:
    """``target``, made by ``build`` into a temporary folder beside it and renamed into place,
    so an interrupted build never leaves a half-written model behind; one that exists is
    reused."""
    if not (target / "export.json").is_file():
        log.info("%s (once)", what, extra={"model": target.name})
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".build-"))
        try:
            build(work)
            os.replace(work, target)
        except OSError:
            if not (target / "export.json").is_file():  # not merely a concurrent build's win
                raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def load_or_export(
    folder: Path,
    architecture: Architecture,
    processors: Processors,
    cache_root: Path,
    quantize: bool,
) -> Export:
    precision = "int8" if quantize else "fp32"
    target = build_once(
        cache_root / f"{folder.name}-{precision}-{export_key(folder, quantize)}",
        lambda work: export_graphs(folder, architecture, processors, work, quantize),
        "exporting the model to ONNX",
    )
    return Export.read(target)


def export_graphs(
    folder: Path, architecture: Architecture, processors: Processors, work: Path, quantize: bool
) -> None:
    model = load_weights(folder, architecture)
    spec = describe(model, architecture, processors.full)
    blank = processors.image(images=[np.zeros((8, 8, 3), dtype=np.uint8)], return_tensors="pt")
    pixels = blank["pixel_values"].repeat(2, 1, 1, 1).float()
    prompt = torch.tensor([spec.prompts["brief"]] * 2)
    prefill = PrefillGraph(model, architecture)
    with torch.no_grad():
        logits, static, dynamic = prefill.run(pixels, prompt)
    step = StepGraph(model, architecture, len(static))
    tokens = logits.argmax(-1, keepdim=True)
    save_graphs(
        Graphs(
            prefill=(prefill, (pixels, prompt), ["pixel_values", "input_ids"]),
            step=(step, (tokens, *static, *dynamic)),
            static=len(static),
            dynamic=len(dynamic),
            axes={"pixel_values": {0: "batch"}, "input_ids": {0: "batch", 1: "tokens"}},
            memory_axes=[1 if i == 0 else 2 for i in range(len(static))],
        ),
        work,
        quantize,
    )
    spec.save(work / "spec.json")


@dataclass(frozen=True)
class Graphs:
    """A model's two calls as traced modules, with example inputs, before they are exported.

    The prefill returns ``logits, *static, *dynamic``; the step takes ``input_ids, *static,
    *dynamic`` and returns ``logits, *dynamic`` grown by one token. Their tensors are named
    ``static_{i}``, ``dynamic_{i}`` and ``next_dynamic_{i}`` in the graphs.
    """

    prefill: tuple[torch.nn.Module, tuple[torch.Tensor, ...], list[str]]
    """The module, its example inputs, and their names."""
    step: tuple[torch.nn.Module, tuple[torch.Tensor, ...]]
    static: int
    dynamic: int
    axes: dict[str, dict[int, str]]
    """The prefill inputs' dynamic axes."""
    memory_axes: list[int]
    """For each static tensor, the axis that runs over the memory (image or source text)."""


def save_graphs(graphs: Graphs, work: Path, quantize: bool) -> None:
    """``prefill.onnx``, ``step.onnx`` (int8 if ``quantize``) and ``export.json`` in ``work``."""
    static_names = [f"static_{i}" for i in range(graphs.static)]
    dynamic_names = [f"dynamic_{i}" for i in range(graphs.dynamic)]
    next_names = [f"next_dynamic_{i}" for i in range(graphs.dynamic)]
    axes = {
        **graphs.axes,
        "logits": {0: "batch"},
        **{
            n: {0: "batch", axis: "memory"}
            for n, axis in zip(static_names, graphs.memory_axes, strict=True)
        },
        **{n: {0: "batch", 2: "past"} for n in dynamic_names + next_names},
    }
    prefill, prefill_inputs, prefill_names = graphs.prefill
    step, step_inputs = graphs.step
    files = {"prefill.onnx": work / "prefill-fp32.onnx", "step.onnx": work / "step-fp32.onnx"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer chatter about Python values baked into the graph
        torch.onnx.export(
            prefill,
            prefill_inputs,
            str(files["prefill.onnx"]),
            input_names=prefill_names,
            output_names=["logits", *static_names, *dynamic_names],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
        torch.onnx.export(
            step,
            step_inputs,
            str(files["step.onnx"]),
            input_names=["input_ids", *static_names, *dynamic_names],
            output_names=["logits", *next_names],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    if quantize:  # see quantize.py for why the two graphs are quantised differently
        quantize_model(files["prefill.onnx"], work / "prefill.onnx")
        quantize_blocks(files["step.onnx"], work / "step.onnx")
    else:
        for name, exported in files.items():
            exported.rename(work / name)
    for leftover in work.glob("*-fp32.onnx*"):
        leftover.unlink()
    layout = {"static": graphs.static, "dynamic": graphs.dynamic}
    (work / "export.json").write_text(json.dumps(layout))


class OnnxBackend:
    name = "onnx"
    device = "cpu"

    def __init__(
        self,
        cache_root: Path,
        quantize: bool = True,
        threads: int = 0,
        *,
        spin: bool = False,
        bf16_prefill: bool = False,
    ) -> None:
        self._cache_root = cache_root
        self._quantize = quantize
        self._threads = threads
        self._spin = spin
        self._bf16_prefill = bf16_prefill and quantize
        if self._bf16_prefill:
            self.name = "onnx, prefill on openvino in bfloat16"

    def open(
        self, folder: Path, architecture: Architecture, processors: Processors
    ) -> tuple[OnnxRuntime, ModelSpec]:
        export = load_or_export(folder, architecture, processors, self._cache_root, self._quantize)
        if self._bf16_prefill:
            from imagecaption.models.hf.bf16_prefill import Bf16PrefillRuntime

            floats = load_or_export(folder, architecture, processors, self._cache_root, False)
            runtime = Bf16PrefillRuntime(export, floats.prefill, self._threads, spin=self._spin)
            return runtime, export.spec
        return OnnxRuntime(export, self._threads, spin=self._spin), export.spec
