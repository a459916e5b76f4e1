"""What each peer's int8 does to a trained transformer (runs in the peers' venv).

The same measure as ours (``tests/models/hf/trained.py``): all-MiniLM-L6-v2, one sentence per
call, the last hidden states mean-pooled over every token and scaled to unit length. Each peer
encodes the sentences through its float32 and through its int8 path(s); the benchmark compares
each int8 with the same peer's float32. The sentences come from the benchmark (this side cannot
import the project) in a JSON file: ``{"measured": [...], "calibration": [...]}``; the
calibration sentences (for OpenVINO's static quantisation) are not among the measured ones.

    python -m benchmarks.peers.fidelity --model FOLDER --sentences FILE --out FOLDER

prints one JSON line: for each configuration, its embeddings file, its reference configuration
and its median milliseconds per sentence.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers.runtimes import (
    cpu_flags,
    ort_quantization_config,
    quantize_onnx_folder,
)

Encode = Callable[[dict[str, np.ndarray]], np.ndarray]
"""Tokenised sentence in, last hidden states out."""


def _inputs(tokenizer: Any, text: str) -> dict[str, np.ndarray]:
    """What trained.Embedder feeds, spelled out: its graph defaults the mask and the token
    types, Optimum's graphs take them as inputs."""
    ids = np.array([tokenizer(text)["input_ids"]], dtype=np.int64)
    return {
        "input_ids": ids,
        "attention_mask": np.ones_like(ids),
        "token_type_ids": np.zeros_like(ids),
    }


def _embed(encode: Encode, tokenizer: Any, texts: list[str]) -> tuple[np.ndarray, float]:
    rows, times = [], []
    for text in texts:
        started = time.perf_counter()
        mean = encode(_inputs(tokenizer, text))[0].mean(axis=0)
        times.append((time.perf_counter() - started) * 1000)
        rows.append(mean / np.linalg.norm(mean))
    return np.stack(rows), statistics.median(times)


def _hidden_states(model: Any) -> Encode:
    import torch

    def encode(inputs: dict[str, np.ndarray]) -> np.ndarray:
        tensors = {name: torch.from_numpy(value) for name, value in inputs.items()}
        hidden: np.ndarray = model(**tensors).last_hidden_state.numpy()
        return hidden

    return encode


def optimum_ort(folder: Path, work: Path, calibration: list[str]) -> dict[str, tuple[Encode, str]]:
    from optimum.onnxruntime import ORTModelForFeatureExtraction

    exported = work / "ort"
    ORTModelForFeatureExtraction.from_pretrained(folder, export=True).save_pretrained(exported)
    renamed = quantize_onnx_folder(exported, work / "ort-int8")
    int8 = ORTModelForFeatureExtraction.from_pretrained(
        work / "ort-int8", file_name=renamed["model.onnx"]
    )
    _, instructions = ort_quantization_config(cpu_flags())
    return {
        "Optimum ONNX Runtime float32": (
            _hidden_states(ORTModelForFeatureExtraction.from_pretrained(exported)),
            "",
        ),
        f"Optimum ONNX Runtime int8 dynamic ({instructions}, per tensor)": (
            _hidden_states(int8),
            "Optimum ONNX Runtime float32",
        ),
    }


def compiled_precision(model: Any) -> str:
    """The precision OpenVINO really compiled the model for, read back from the compiled model
    (not the plugin's default, not what was asked): "f32", "bf16" or "f16"."""
    model.compile()
    hint = model.request.get_property("INFERENCE_PRECISION_HINT")
    return str(hint.get_type_name())


def openvino(folder: Path, work: Path, calibration: list[str]) -> dict[str, tuple[Encode, str]]:
    import nncf
    import transformers as tf
    from optimum.intel import (
        OVConfig,
        OVModelForFeatureExtraction,
        OVQuantizationConfig,
        OVQuantizer,
        OVWeightQuantizationConfig,
    )

    exported = work / "openvino"
    OVModelForFeatureExtraction.from_pretrained(folder, export=True, compile=False).save_pretrained(
        exported
    )
    float32 = OVModelForFeatureExtraction.from_pretrained(
        exported, ov_config={"INFERENCE_PRECISION_HINT": "f32"}
    )
    weights = OVModelForFeatureExtraction.from_pretrained(
        folder, export=True, quantization_config=OVWeightQuantizationConfig(bits=8)
    )
    tokenizer = tf.AutoTokenizer.from_pretrained(folder)
    samples = [_inputs(tokenizer, text) for text in calibration]
    quantizer = OVQuantizer.from_pretrained(
        OVModelForFeatureExtraction.from_pretrained(exported, compile=False)
    )
    quantizer.quantize(
        calibration_dataset=nncf.Dataset(samples),
        ov_config=OVConfig(quantization_config=OVQuantizationConfig(num_samples=len(samples))),
        save_directory=work / "openvino-static",
    )
    static = OVModelForFeatureExtraction.from_pretrained(work / "openvino-static")
    default = OVModelForFeatureExtraction.from_pretrained(exported)
    if compiled_precision(float32) != "f32":
        raise RuntimeError(f"OpenVINO float32 compiled for {compiled_precision(float32)}")
    reference = "OpenVINO float32 (compiled f32)"
    return {
        reference: (_hidden_states(float32), ""),
        f"OpenVINO default (compiled {compiled_precision(default)})": (
            _hidden_states(default),
            reference,
        ),
        f"OpenVINO int8 weights (compiled {compiled_precision(weights)})": (
            _hidden_states(weights),
            reference,
        ),
        f"OpenVINO int8 static, {len(samples)} calibration sentences "
        f"(compiled {compiled_precision(static)})": (_hidden_states(static), reference),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="all-MiniLM-L6-v2's folder")
    parser.add_argument("--sentences", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    import transformers as tf

    texts = json.loads(args.sentences.read_text())
    tokenizer = tf.AutoTokenizer.from_pretrained(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    for peer in (optimum_ort, openvino):
        for name, (encode, reference) in peer(args.model, args.out, texts["calibration"]).items():
            embeddings, per_sentence = _embed(encode, tokenizer, texts["measured"])
            path = args.out / f"{len(results):02d}.npy"
            np.save(path, embeddings)
            results[name] = {"embeddings": str(path), "reference": reference, "ms": per_sentence}
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
