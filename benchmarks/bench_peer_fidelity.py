"""What int8 does to a trained transformer: ours against each peer's own int8 path, in one table.

The measure of ``bench_int8_fidelity`` (all-MiniLM-L6-v2, 2,000 caption-like sentences encoded
one at a time, mean-pooled, compared with ``trained.compare``), applied to ours and to the peers'
int8 paths (``benchmarks/peers/fidelity.py``, in the peers' environment). Each int8 is compared
with the same runtime's float32: cosine mean / min and nearest neighbours kept. Five decimals:
OpenVINO's bf16 against its f32 differs in the fifth (0.99999), which four would print as 1.
OpenVINO's rows name the precision read back from each compiled model.

    python -m benchmarks.bench_peer_fidelity
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from tests.models.hf import trained

from benchmarks.bench_models import machine
from benchmarks.peers.environment import REPO_ROOT, peers_python
from imagecaption.models.cpus import usable_cpus
from imagecaption.models.hf.openvino_backend import _compress_weights, compile_options
from imagecaption.models.hf.quantize import quantize_blocks, quantize_model
from imagecaption.models.offline.labels import load_labels


def calibration_sentences() -> list[str]:
    """For static quantisation: caption-like, but none of the measured sentences."""
    return [f"There is {label.phrase} in this picture." for label in load_labels()[::3]]


class _OpenVinoEmbedder:
    """``trained.Embedder`` on OpenVINO, compiled as our openvino backend compiles its graphs."""

    def __init__(self, graph: Path, folder: Path, quantize: bool) -> None:
        import openvino as ov
        import transformers as tf

        model = ov.Core().read_model(str(graph))
        if quantize:
            model = _compress_weights(model)
        self._tokenizer = tf.AutoTokenizer.from_pretrained(folder)
        self._model = ov.Core().compile_model(model, "CPU", compile_options(usable_cpus()))

    def __call__(self, texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:
            ids = np.array([self._tokenizer(text)["input_ids"]], dtype=np.int64)
            mean = self._model({"input_ids": ids})[0].mean(axis=1)[0]
            rows.append(mean / np.linalg.norm(mean))
        return np.stack(rows)


def ours(folder: Path, work: Path, texts: list[str]) -> dict[str, tuple[np.ndarray, float]]:
    """Our int8 schemes: the onnx backend's prefill (per-token) and step (8-bit blocks), and
    the openvino backend's (int8 weights, per-token dynamic activations)."""
    float32 = trained.export(folder, work / "float32.onnx")
    quantize_model(float32, work / "ours.onnx")
    quantize_blocks(float32, work / "blocks.onnx")
    embedders: dict[str, Callable[[list[str]], np.ndarray]] = {
        "float32": trained.Embedder(float32, folder),
        "int8": trained.Embedder(work / "ours.onnx", folder),
        "blocks": trained.Embedder(work / "blocks.onnx", folder),
    }
    if find_spec("openvino") and find_spec("nncf"):
        embedders["openvino float32"] = _OpenVinoEmbedder(float32, folder, quantize=False)
        embedders["openvino int8"] = _OpenVinoEmbedder(float32, folder, quantize=True)
    found = {}
    for name, embed in embedders.items():
        rows, times = [], []
        for text in texts:
            started = time.perf_counter()
            rows.append(embed([text]))
            times.append((time.perf_counter() - started) * 1000)
        found[name] = (np.concatenate(rows), statistics.median(times))
    return found


def main() -> None:
    texts = trained.sentences()
    print(f"machine: {machine()}")
    print(f"model: all-MiniLM-L6-v2 (trained), {len(texts)} sentences, one per call\n")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        folder = trained.extract(work / "all-MiniLM-L6-v2")
        sentences = work / "sentences.json"
        sentences.write_text(
            json.dumps({"measured": texts, "calibration": calibration_sentences()})
        )
        done = subprocess.run(
            [
                *(str(peers_python()), "-m", "benchmarks.peers.fidelity", "--model", str(folder)),
                *("--sentences", str(sentences), "--out", str(work / "peers")),
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        answer = next(line for line in reversed(done.stdout.splitlines()) if line.startswith("{"))
        peers = json.loads(answer)
        mine = ours(folder, work, texts)
        rows = [
            ("ours (onnx) float32", mine["float32"][0], mine["float32"][0], mine["float32"][1]),
            ("ours (onnx) per-token int8", mine["int8"][0], mine["float32"][0], mine["int8"][1]),
            (
                "ours (onnx) 8-bit blocks, the decoder step's",
                mine["blocks"][0],
                mine["float32"][0],
                mine["blocks"][1],
            ),
        ]
        if "openvino int8" in mine:
            reference, ms = mine["openvino float32"]
            int8, int8_ms = mine["openvino int8"]
            rows.append(("ours (openvino) float32", reference, reference, ms))
            rows.append(("ours (openvino) int8", int8, reference, int8_ms))
        loaded = {name: np.load(entry["embeddings"]) for name, entry in peers.items()}
        for name, entry in peers.items():
            reference = loaded[entry["reference"] or name]
            rows.append((name, loaded[name], reference, entry["ms"]))
    print(
        "| runtime and precision | cosine with its float32, mean / min | nearest neighbour kept "
        "| median ms per sentence |"
    )
    print("|---|---|---:|---:|")
    for name, embeddings, reference, ms in rows:
        result = trained.compare(reference, embeddings)
        print(
            f"| {name} | {result.cosine_mean:.5f} / {result.cosine_min:.5f} | "
            f"{100 * result.neighbours_kept:.1f}% | {ms:.2f} |"
        )


if __name__ == "__main__":
    main()
