"""The shipped text detector, RapidOCR's with its denormal weights set to zero, finds what the
original finds: the same line boxes with the same scores, at the check's size and at the
reading's, on real and drawn pictures; and neither it nor the shipped recogniser has a denormal
weight left to slow the cores down."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from benchmarks.quality.photos import photo as corpus_photo

from imagecaption.models.offline.text import (
    CHECK_SIDE,
    READ_SIDE,
    _bgr,
    latin_recogniser,
    text_detector,
)
from tests.conftest import photo
from tests.text_images import lettering, page, sign_on

rapidocr = pytest.importorskip("rapidocr")

CASES = {
    "scanned page": lambda: corpus_photo("page"),
    "bottle cap": lambda: corpus_photo("fb_bottle_cap"),
    "source code": lambda: corpus_photo("pygame_source_code"),
    "web page": lambda: corpus_photo("augly_web_page"),
    "turned sign": lambda: lettering("Fresh Bread Daily", 40, angle=20),
    "sign on a photo": lambda: sign_on(photo("rocket"), "Launch Pad 39A", share=0.7),
    "drawn page": lambda: page(["In the beginning God created the heaven", "and the earth."] * 3),
}
SIZES = {"check": ("max", CHECK_SIDE), "reading": ("min", READ_SIDE)}


def original_detector() -> Path:
    return Path(str(resources.files("rapidocr").joinpath("models/PP-OCRv6_det_small.onnx")))


def detector(model: Path, limit_type: str, side: int) -> Any:
    return rapidocr.RapidOCR(
        params={
            "Global.log_level": "error",
            "Global.use_cls": False,
            "Global.use_rec": False,
            "EngineConfig.onnxruntime.intra_op_num_threads": 2,
            "Det.model_path": str(model),
            "Det.limit_type": limit_type,
            "Det.limit_side_len": side,
        }
    )


@pytest.fixture(scope="module")
def detectors() -> dict[str, tuple[Any, Any]]:
    return {
        size: (detector(original_detector(), *limits), detector(text_detector(), *limits))
        for size, limits in SIZES.items()
    }


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_shipped_detector_finds_the_same_boxes(
    detectors: dict[str, tuple[Any, Any]], case: str, size: str
) -> None:
    original, shipped = detectors[size]
    bgr = _bgr(CASES[case]())
    expected, got = original(bgr), shipped(bgr)
    assert expected.boxes is not None
    assert len(expected.boxes), "no lines found"
    np.testing.assert_array_equal(got.boxes, expected.boxes)
    assert list(got.scores) == list(expected.scores)


@pytest.mark.parametrize("model", [text_detector, latin_recogniser])
def test_the_shipped_text_models_have_no_denormal_weights(model: Callable[[], Path]) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    smallest_normal = np.finfo(np.float32).tiny
    arrays = [numpy_helper.to_array(weight) for weight in onnx.load(model()).graph.initializer]
    floats = [array for array in arrays if array.dtype == np.float32]
    assert floats
    assert not any(np.any((a != 0) & (np.abs(a) < smallest_normal)) for a in floats)
