"""A ViT+GPT-2 graph written by Optimum's own exporter serves as the transformers model does.

Optimum's ONNX exporter (optimum-onnx 0.1.0, the newest release) requires transformers < 4.58,
so it cannot share the test environment (transformers 5): it runs in an environment of its own,
``.venv-optimum``, built from ``optimum-requirements.txt`` beside this file (CI builds it). The
tiny model saved by transformers 5 loads there, ``optimum-cli export onnx`` writes its encoder
and merged decoder, and the ready ONNX runner serves them laid out as the hub's repositories lay
them out (``onnx/``), with the tokens and captions of the transformers model on torch. Florence-2
is not exported here: Optimum's exporter has no configuration for it ("florence2 is not supported
yet"), and the hub's Florence-2 exports were written by other scripts.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import onnxruntime as ort
import pytest
from PIL import Image

from imagecaption.models.hf.ready_onnx import ReadyOnnxCaptioner, check_ready_onnx
from tests.models.hf.conftest import Captioners, Folders
from tests.models.hf.test_ready_onnx import EXPECTED_NAMES, OPTIONS, _tokens

OPTIMUM = Path(__file__).resolve().parents[3] / ".venv-optimum" / "bin"
GRAPHS = ("encoder_model", "decoder_model_merged")

pytestmark = pytest.mark.skipif(
    not (OPTIMUM / "optimum-cli").exists(),
    reason="no Optimum environment at .venv-optimum (CI builds it: python3 -m venv "
    ".venv-optimum && .venv-optimum/bin/pip install -r tests/models/hf/optimum-requirements.txt)",
)


def _optimum(*arguments: str, cwd: Path) -> None:
    done = subprocess.run(
        [str(OPTIMUM / "optimum-cli"), *arguments],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _as_published(written: Path, out: Path, suffix: str = "") -> Path:
    """Optimum writes the graphs beside the JSON files; the hub's repositories keep them in
    ``onnx/``, which is what the runner reads."""
    (out / "onnx").mkdir(parents=True)
    for file in written.glob("*.json"):
        shutil.copy(file, out / file.name)
    for graph in GRAPHS:
        shutil.copy(written / f"{graph}{suffix}.onnx", out / "onnx" / f"{graph}{suffix}.onnx")
    return out


@pytest.mark.slow
def test_optimums_own_export_serves_the_transformers_models_captions(
    folders: Folders, captioners: Captioners, images: list[Image.Image], tmp_path: Path
) -> None:
    written = tmp_path / "optimum"
    source = folders("vision_encoder_decoder")
    _optimum(
        "export", "onnx", "--model", str(source), "--task", "image-to-text-with-past", str(written),
        cwd=tmp_path,
    )  # fmt: skip
    folder = _as_published(written, tmp_path / "vit-gpt2-onnx")
    for graph, (inputs, outputs) in EXPECTED_NAMES["vision_encoder_decoder"].items():
        session = ort.InferenceSession(str(folder / "onnx" / f"{graph}.onnx"))
        assert [given.name for given in session.get_inputs()] == inputs
        assert [made.name for made in session.get_outputs()] == outputs

    reference = captioners("vision_encoder_decoder", "torch")
    served = ReadyOnnxCaptioner("vit-gpt2", folder, quantize=False, threads=2)
    served.load()
    for option in OPTIONS:
        assert _tokens(served, images, option) == _tokens(reference, images, option)
        assert [[c.text for c in caption.candidates] for caption in served.caption_batch(
            images, option
        )] == [
            [c.text for c in caption.candidates]
            for caption in reference.caption_batch(images, option)
        ]  # fmt: skip

    # Optimum's dynamic int8 (its quickstart's, for AVX-512 VNNI) names the variant _quantized.
    quantized = tmp_path / "quantized"
    _optimum(
        "onnxruntime", "quantize", "--onnx_model", str(written), "--avx512_vnni",
        "-o", str(quantized), cwd=tmp_path,
    )  # fmt: skip
    folder = _as_published(quantized, tmp_path / "vit-gpt2-onnx-int8", "_quantized")
    assert check_ready_onnx(folder, quantize=True).variant == "_quantized"
    int8 = ReadyOnnxCaptioner("vit-gpt2", folder, quantize=True, threads=2)
    int8.load()
    captions = int8.caption_batch(images, OPTIONS[2])
    # Random weights: int8 moves the tokens, and alternatives that read the same are merged.
    assert all(1 <= len(caption.candidates) <= 3 for caption in captions)
    assert all(caption.candidates[0].text for caption in captions)
