"""The onnx export's two graphs on ONNX Runtime; needs neither torch nor transformers, so the
base install serves an exported model with it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imagecaption.models.hf.graph_runtime import GraphRuntime, StepFeeds
from imagecaption.models.hf.spec import ModelSpec
from imagecaption.models.onnx_session import create_session


@dataclass(frozen=True)
class Export:
    folder: Path
    spec: ModelSpec
    static: int
    dynamic: int

    @property
    def prefill(self) -> Path:
        return self.folder / "prefill.onnx"

    @property
    def step(self) -> Path:
        return self.folder / "step.onnx"

    @property
    def prefill_outputs(self) -> list[str]:
        """The prefill's outputs in order, as ``onnx_backend.save_graphs`` names them."""
        static = [f"static_{i}" for i in range(self.static)]
        return ["logits", *static, *(f"dynamic_{i}" for i in range(self.dynamic))]

    @classmethod
    def read(cls, folder: Path) -> Export:
        """An export written by ``onnx_backend``: the graphs, ``spec.json`` and ``export.json``
        (how many state tensors each graph passes on)."""
        layout = json.loads((folder / "export.json").read_text())
        spec = ModelSpec.load(folder / "spec.json")
        return cls(folder, spec, int(layout["static"]), int(layout["dynamic"]))


class OnnxRuntime(GraphRuntime):
    def __init__(self, export: Export, threads: int, *, spin: bool = False) -> None:
        self._open_prefill(export, threads, spin)
        self._step = create_session(export.step, threads, spin=spin)
        accepted = {given.name for given in self._step.get_inputs()}
        super().__init__(StepFeeds.declared(export.static, export.dynamic, accepted))

    def _open_prefill(self, export: Export, threads: int, spin: bool) -> None:
        """What runs the prefill; a subclass that runs it elsewhere opens nothing here."""
        self._prefill = create_session(export.prefill, threads, spin=spin)

    def _run_prefill(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return list(self._prefill.run(None, inputs))

    def _run_step(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return list(self._step.run(None, inputs))
