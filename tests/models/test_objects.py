"""The shipped COCO detector: same outputs as TensorFlow, boxes in the right place, odd images."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from imagecaption.models.offline import objects
from imagecaption.models.offline.objects import Detection, ObjectDetector, detector_input
from imagecaption.models.onnx_session import create_session
from tests.conftest import photo

REFERENCES = Path(__file__).with_name("offline_references.npz")
REFERENCE_PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "grace_hopper"]
# The shipped detector is NanoDet quantized to int8 (scripts/convert_offline_models/
# quantize_detector.py); the references are TensorFlow's float outputs, which the float model
# matched to 1e-6 before quantization. Int8 moves the scores: over the quality corpus, the
# detections the captioner uses differ from float by 0.017 on average and 0.075 at most (MODELS.md),
# and on these photos TensorFlow's confident rows by 0.047 at most. A side of a box is the
# expectation of an 11-bin distribution over 0..10 strides; int8 moved it by up to 0.38 stride
# here. The margins leave room for other CPUs' rounding, not for a worse model: the same graph
# quantized throughout (first layers and heads int8 too), or calibrated by percentiles, fails.
CONFIDENT = 0.3
SCORE_TOLERANCE = 0.08
SIDE_TOLERANCE_STRIDES = 0.5


@pytest.fixture(scope="module")
def detector() -> ObjectDetector:
    return ObjectDetector(threads=2)


@pytest.fixture(scope="module")
def references() -> dict[str, np.ndarray]:
    with np.load(REFERENCES) as recorded:
        return {key: recorded[key] for key in recorded.files}


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "grace_hopper"])
def test_confident_outputs_match_tensorflow(references: dict[str, np.ndarray], name: str) -> None:
    """TensorFlow's confident rows, recorded when the model was converted: same class, close
    score, box sides within half a stride."""
    model = resources.files("imagecaption.models.offline").joinpath(objects.MODEL).read_bytes()
    session = create_session(model, threads=2)
    scores, distributions = session.run(
        [objects.SCORES, objects.DISTRIBUTIONS],
        {objects.INPUT_NAME: detector_input(photo(name)).tensor},
    )
    rows = references[f"objects_rows_{name}"]
    expected_scores = references[f"objects_scores_{name}"]
    confident = expected_scores.max(axis=1) >= CONFIDENT  # none on the rocket: not tested
    assert confident.sum() >= 3
    rows, expected_scores = rows[confident], expected_scores[confident]
    classes = expected_scores.argmax(axis=1)
    found = scores[0][rows]
    assert (found.argmax(axis=1) == classes).all()
    np.testing.assert_allclose(
        found[np.arange(len(rows)), classes],
        expected_scores[np.arange(len(rows)), classes],
        rtol=0,
        atol=SCORE_TOLERANCE,
    )
    np.testing.assert_allclose(
        box_sides(distributions[0][rows]),
        box_sides(references[f"objects_distributions_{name}"][confident]),
        rtol=0,
        atol=SIDE_TOLERANCE_STRIDES,
    )


def test_the_shipped_detector_is_the_int8_one() -> None:
    """The speed the offline captioner's latency budget counts on comes from int8 kernels."""
    model = onnx.load_from_string(
        resources.files("imagecaption.models.offline").joinpath(objects.MODEL).read_bytes()
    )
    operators = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= operators
    int8_weights = [
        item
        for item in model.graph.initializer
        if item.data_type == onnx.TensorProto.INT8 and np.prod(item.dims) >= 1024
    ]
    assert len(int8_weights) >= 25  # of 34 convolutions; the first two and the heads' last float


def test_the_person_box_is_on_the_astronaut(detector: ObjectDetector) -> None:
    best = detector.detect(photo("astronaut"))[0]
    assert (best.label, best.score > 0.6) == ("person", True), best
    # She fills the left two thirds of the picture from top to bottom; the helmet is to her right.
    assert best.left < 0.1, best
    assert 0.6 < best.right < 0.8, best
    assert best.top < 0.1, best
    assert best.bottom > 0.9, best


@pytest.mark.parametrize(
    ("name", "labels"),
    [("chelsea", {"cat"}), ("grace_hopper", {"person", "tie"}), ("coffee", {"dining table"})],
)
def test_confident_detections_name_what_is_there(
    detector: ObjectDetector, name: str, labels: set[str]
) -> None:
    confident = {found.label for found in detector.detect(photo(name)) if found.score >= 0.45}
    assert confident == labels


def test_nothing_confident_on_a_photo_without_coco_objects(detector: ObjectDetector) -> None:
    assert [found for found in detector.detect(photo("rocket")) if found.score >= 0.3] == []


@pytest.mark.parametrize("name", [*REFERENCE_PHOTOS, "camera", "hubble_deep_field"])
def test_detections_are_sorted_suppressed_and_inside_the_image(
    detector: ObjectDetector, name: str
) -> None:
    found = detector.detect(photo(name))
    assert_well_formed(found)
    for index, first in enumerate(found):
        for second in found[index + 1 :]:
            if first.label == second.label:
                assert overlap(first, second) <= objects.MAX_OVERLAP


def test_a_big_photo_gives_the_boxes_of_its_small_version(detector: ObjectDetector) -> None:
    small = photo("astronaut")
    found_small = detector.detect(small)[0]
    found_big = detector.detect(small.resize((2048, 2048)))[0]
    assert found_big.label == found_small.label
    for side in ("left", "top", "right", "bottom"):
        assert getattr(found_big, side) == pytest.approx(getattr(found_small, side), abs=0.02)


def test_a_detection_on_a_letterboxed_photo_is_placed_in_the_photo(
    detector: ObjectDetector,
) -> None:
    """A wide photo is padded above and below; its boxes must not include the padding."""
    wide = photo("chelsea")  # 451 x 300
    cat = next(found for found in detector.detect(wide) if found.label == "cat")
    padded = Image.new("RGB", (wide.width, wide.width))
    padded.paste(wide, (0, 0))
    in_square = next(found for found in detector.detect(padded) if found.label == "cat")
    scale = wide.width / wide.height
    assert cat.top == pytest.approx(in_square.top * scale, abs=0.03)
    assert cat.bottom == pytest.approx(min(1.0, in_square.bottom * scale), abs=0.03)


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (1, 1), (255, 0, 0)),
        Image.new("RGB", (20000, 2), (10, 200, 30)),
        Image.new("RGB", (2, 20000), (10, 20, 230)),
        Image.new("RGB", (416, 416)),
        photo("chelsea").convert("L"),
        photo("astronaut").convert("RGBA"),
        photo("chelsea").resize((4000, 60)),
    ],
    ids=["1x1", "wide-strip", "tall-strip", "black", "grey", "rgba", "panorama"],
)
def test_odd_images_do_not_break_detection(detector: ObjectDetector, image: Image.Image) -> None:
    assert_well_formed(detector.detect(image))


def test_plain_images_have_no_objects(detector: ObjectDetector) -> None:
    for image in (Image.new("RGB", (1, 1)), Image.new("RGB", (640, 480), (128, 128, 128))):
        assert detector.detect(image) == []


def test_there_are_80_coco_labels_in_order() -> None:
    assert len(objects.COCO_LABELS) == len(set(objects.COCO_LABELS)) == 80
    assert objects.COCO_LABELS[:3] == ("person", "bicycle", "car")
    assert objects.COCO_LABELS[32] == "sports ball"
    assert objects.COCO_LABELS[-1] == "toothbrush"


def assert_well_formed(found: list[Detection]) -> None:
    scores = [item.score for item in found]
    assert scores == sorted(scores, reverse=True)
    assert len(found) <= objects.MAX_DETECTIONS
    for item in found:
        assert item.label in objects.COCO_LABELS
        assert objects.MIN_SCORE < item.score <= 1.0
        assert 0.0 <= item.left < item.right <= 1.0, item
        assert 0.0 <= item.top < item.bottom <= 1.0, item


def box_sides(distributions: np.ndarray) -> np.ndarray:
    """Each row's four box sides, in strides: the expectation of each side's distribution."""
    logits = distributions.reshape(len(distributions), 4, objects.BINS)
    weights = np.exp(logits - logits.max(axis=2, keepdims=True))
    return np.asarray((weights @ np.arange(objects.BINS)) / weights.sum(axis=2))


def overlap(first: Detection, second: Detection) -> float:
    width = min(first.right, second.right) - max(first.left, second.left)
    height = min(first.bottom, second.bottom) - max(first.top, second.top)
    if width <= 0 or height <= 0:
        return 0.0
    intersection = width * height
    area = (first.right - first.left) * (first.bottom - first.top)
    other = (second.right - second.left) * (second.bottom - second.top)
    return intersection / (area + other - intersection)
