"""EfficientNet-Lite0 ImageNet classifier, run by onnxruntime on batches of images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from imagecaption.models.offline.export import INPUT_NAME, INPUT_SIZE, OUTPUT_NAME
from imagecaption.models.onnx_session import create_session

# The model was trained on 224-pixel centre crops of images scaled to 256 on the short side.
CROP_FRACTION = INPUT_SIZE / 256
# Let Pillow shrink big images by whole factors before resampling: much faster, about as sharp.
REDUCING_GAP = 3.0

Region = tuple[float, float, float, float]


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

    def __init__(self, model_path: Path, threads: int) -> None:
        self._session = create_session(model_path, threads)

    def probabilities(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Classify arrays from the functions above in one run; returns shape (N, 1000)."""
        (logits,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: np.stack(inputs)})
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)
