"""What int8 does to a trained transformer: our export against float32 and onnxruntime's own.

No captioning weights can be downloaded here, so caption quality under int8 cannot be measured
directly. This runs the next best thing: a trained 6-layer BERT from the package index
(all-MiniLM-L6-v2, see ``tests/models/hf/trained.py``), exported the way our models are, on 2,000
caption-like sentences encoded one at a time, through:

- float32 (the reference);
- ours: per-token activation scales, per-column 7-bit weights (``models/hf/quantize.py``: the
  prefill graphs);
- ours for the decoder step: onnxruntime's ``MatMulNBits``, 8-bit weights in blocks of 32 with
  int8 compute (activations quantised per block of each row), and the same with 4-bit blocks;
- onnxruntime's ``quantize_dynamic`` with its defaults (one scale per tensor for both), and with
  ``per_channel=True`` (one scale per weight column).

For each: cosine similarity of the sentence embeddings with float32, the share of sentences whose
nearest neighbour stays the same, and the median time per sentence.

    python -m benchmarks.bench_int8_fidelity
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from onnxruntime.quantization import QuantType, quantize_dynamic
from tests.models.hf import trained

from benchmarks.bench_models import machine
from imagecaption.models.hf.quantize import quantize_blocks, quantize_model


def main() -> None:
    texts = trained.sentences()
    print(f"machine: {machine()}")
    print(f"model: all-MiniLM-L6-v2 (trained), {len(texts)} sentences, one per call\n")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        folder = trained.extract(work / "all-MiniLM-L6-v2")
        float32 = trained.export(folder, work / "float32.onnx")
        graphs = {"float32": float32}
        quantize_model(float32, work / "ours.onnx")
        graphs["ours (per-token int8)"] = work / "ours.onnx"
        quantize_blocks(float32, work / "blocks.onnx")
        graphs["ours, step (MatMulNBits 8-bit blocks)"] = work / "blocks.onnx"
        quantize_blocks(float32, work / "blocks4.onnx", bits=4)
        graphs["MatMulNBits 4-bit blocks (not used)"] = work / "blocks4.onnx"
        quantize_dynamic(str(float32), str(work / "ort.onnx"), weight_type=QuantType.QInt8)
        graphs["onnxruntime quantize_dynamic, defaults"] = work / "ort.onnx"
        quantize_dynamic(
            str(float32), str(work / "ort-pc.onnx"), weight_type=QuantType.QInt8, per_channel=True
        )
        graphs["onnxruntime quantize_dynamic, per_channel"] = work / "ort-pc.onnx"
        # Interleaved in rounds of 200 sentences, so drifts of the machine hit every graph alike.
        embedders = {name: trained.Embedder(graph, folder) for name, graph in graphs.items()}
        per_call: dict[str, list[float]] = {name: [] for name in graphs}
        embeddings: dict[str, list[np.ndarray]] = {name: [] for name in graphs}
        for start in range(0, len(texts), 200):
            for name, embed in embedders.items():
                started = time.perf_counter()
                embeddings[name].append(embed(texts[start : start + 200]))
                per_call[name].append((time.perf_counter() - started) * 1000 / 200)
        reference = np.concatenate(embeddings["float32"])
        for name in graphs:
            result = trained.compare(reference, np.concatenate(embeddings[name]))
            print(
                f"{name:<44} cosine mean {result.cosine_mean:.4f} min {result.cosine_min:.4f}  "
                f"nearest neighbour kept {100 * result.neighbours_kept:5.1f}%  "
                f"{statistics.median(per_call[name]):5.2f} ms/sentence"
            )


if __name__ == "__main__":
    main()
