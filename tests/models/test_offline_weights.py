"""The scene models' weights hold no denormal numbers, as the text models' do not.

x86 cores multiply a denormal float32 (below 1.2e-38 in magnitude) through a slow microcode
assist; one such model of this package once spent four fifths of its time on them. A converted
or re-quantized model must not bring them back. Weights stored as float16 are checked as the
float32 values the runtime computes with once it has folded their casts.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

SCENE_MODELS = (
    "efficientnet_lite0.onnx",
    "nanodet_g_coco.onnx",
    "face_detection_full_range.onnx",
    "movenet_lightning.onnx",
)


@pytest.mark.parametrize("name", SCENE_MODELS)
def test_the_scene_models_have_no_denormal_weights(name: str) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    model = resources.files("imagecaption.models.offline").joinpath(name).read_bytes()
    arrays = [
        numpy_helper.to_array(weight) for weight in onnx.load_from_string(model).graph.initializer
    ]
    floats = [a.astype(np.float32) for a in arrays if np.issubdtype(a.dtype, np.floating)]
    assert floats, "no float weights found: the check would pass vacuously"
    smallest_normal = np.finfo(np.float32).tiny
    denormal = sum(int(np.sum((a != 0) & (np.abs(a) < smallest_normal))) for a in floats)
    assert denormal == 0, f"{name}: {denormal} denormal weights"
