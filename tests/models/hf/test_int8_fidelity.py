"""The int8 export on trained weights: close to float32, and closer than onnxruntime's default.

Random-weight models (everywhere else in these tests) check shapes and batching, not accuracy;
this is the one place where real activations, with their outliers, go through the quantiser.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from onnxruntime.quantization import QuantType, quantize_dynamic

from imagecaption.models.hf.quantize import quantize_blocks, quantize_model
from tests.models.hf import trained

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    work = tmp_path_factory.mktemp("trained")
    folder = trained.extract(work / "all-MiniLM-L6-v2")
    texts = trained.sentences()[::10]  # 200 sentences: a few seconds per graph
    return folder, trained.export(folder, work / "float32.onnx"), texts


def test_int8_keeps_a_trained_transformer_close_to_float32(
    encoder: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    folder, float32, texts = encoder
    assert quantize_model(float32, tmp_path / "int8.onnx") == 36  # 6 layers x 6 projections
    reference = trained.Embedder(float32, folder)(texts)
    ours = trained.compare(reference, trained.Embedder(tmp_path / "int8.onnx", folder)(texts))
    assert ours.cosine_mean > 0.99
    assert ours.cosine_min > 0.98
    assert ours.neighbours_kept > 0.85

    quantize_dynamic(str(float32), str(tmp_path / "ort.onnx"), weight_type=QuantType.QInt8)
    default = trained.compare(reference, trained.Embedder(tmp_path / "ort.onnx", folder)(texts))
    assert 1 - ours.cosine_mean < (1 - default.cosine_mean) / 2


def test_the_step_graphs_8_bit_blocks_keep_a_trained_transformer_closer_still(
    encoder: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    folder, float32, texts = encoder
    quantize_blocks(float32, tmp_path / "blocks.onnx")
    reference = trained.Embedder(float32, folder)(texts)
    blocks = trained.compare(reference, trained.Embedder(tmp_path / "blocks.onnx", folder)(texts))
    assert blocks.cosine_mean > 0.999
    assert blocks.cosine_min > 0.995
    assert blocks.neighbours_kept > 0.9
