"""The pose stage: MoveNet's ONNX file against TensorFlow's outputs, and the posture reader on
made-up skeletons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imagecaption.models.offline import pose
from imagecaption.models.offline.pose import PoseReader, chosen_people, read_posture
from imagecaption.models.offline.regions import Box
from tests.conftest import photo

REFERENCES = Path(__file__).with_name("offline_references.npz")
# MoveNet's keypoints are fractions of the crop; the shipped file matched TensorFlow within 2e-7
# when converted, so this only allows for other CPUs' float rounding.
POSITION_TOLERANCE = 1e-3
CONFIDENCE_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def reader() -> PoseReader:
    return PoseReader(threads=2)


def test_keypoints_match_tensorflow(reader: PoseReader) -> None:
    """The shipped ONNX file, on the crops the references were recorded on, answers what
    TensorFlow answered for the original TF.js graph."""
    with np.load(REFERENCES) as references:
        names = [str(name) for name in references["pose_photos"]]
        boxes = references["pose_boxes"]
        expected = references["pose_keypoints"]
    assert len(names) >= 3
    for name, corners, keypoints in zip(names, boxes, expected, strict=True):
        found = reader.keypoints(photo(name), Box(*(float(v) for v in corners), 1.0))
        yx = keypoints[:, [1, 0]]
        assert np.abs(found[:, :2] - yx).max() <= POSITION_TOLERANCE, name
        assert np.abs(found[:, 2] - keypoints[:, 2]).max() <= CONFIDENCE_TOLERANCE, name


def test_keypoints_land_on_the_face(reader: PoseReader) -> None:
    """On the astronaut's portrait the nose and eyes are found where the face is (the face
    detector's box on that photo), so the crop is mapped back the right way round."""
    box = Box(0.024, 0.028, 0.713, 0.992, 1.0)
    image = photo("astronaut")
    points = reader.keypoints(image, box)
    crop = pose.crop_of(box, image.width, image.height)
    nose_x = (crop.left + points[pose.NOSE, 0] * crop.side) / image.width
    nose_y = (crop.top + points[pose.NOSE, 1] * crop.side) / image.height
    assert points[pose.NOSE, 2] > 0.5
    assert 0.3 < nose_x < 0.55, nose_x
    assert 0.15 < nose_y < 0.35, nose_y


def skeleton(
    shoulders: tuple[tuple[float, float], tuple[float, float]],
    hips: tuple[tuple[float, float], tuple[float, float]],
    knees: tuple[tuple[float, float], tuple[float, float]] | None,
    ankles: tuple[tuple[float, float], tuple[float, float]] | None,
    confidence: float = 0.8,
) -> np.ndarray:
    """17 keypoints (x, y, confidence) from the joints that matter; the head and arms sit
    plausibly above the shoulders, and legs left out (None) are unseen (confidence 0.05)."""
    points = np.zeros((pose.KEYPOINTS, 3))
    (lsx, lsy), (rsx, rsy) = shoulders
    head = ((lsx + rsx) / 2, min(lsy, rsy) - 0.08)
    for joint in (pose.NOSE, pose.LEFT_EYE, pose.RIGHT_EYE, pose.LEFT_EAR, pose.RIGHT_EAR):
        points[joint] = (*head, confidence)
    named = {
        pose.LEFT_SHOULDER: shoulders[0],
        pose.RIGHT_SHOULDER: shoulders[1],
        pose.LEFT_ELBOW: (lsx, lsy + 0.12),
        pose.RIGHT_ELBOW: (rsx, rsy + 0.12),
        pose.LEFT_WRIST: (lsx, lsy + 0.22),
        pose.RIGHT_WRIST: (rsx, rsy + 0.22),
        pose.LEFT_HIP: hips[0],
        pose.RIGHT_HIP: hips[1],
    }
    for joint, (x, y) in named.items():
        points[joint] = (x, y, confidence)
    for pair, joints in (
        (knees, (pose.LEFT_KNEE, pose.RIGHT_KNEE)),
        (ankles, (pose.LEFT_ANKLE, pose.RIGHT_ANKLE)),
    ):
        for joint, point in zip(joints, pair or ((0.5, 0.9), (0.5, 0.9)), strict=True):
            points[joint] = (*point, confidence if pair else 0.05)
    return points


FRONT_SHOULDERS = ((0.6, 0.25), (0.4, 0.25))
FRONT_HIPS = ((0.57, 0.5), (0.43, 0.5))
SIDE_SHOULDERS = ((0.52, 0.25), (0.48, 0.25))
SIDE_HIPS = ((0.51, 0.5), (0.49, 0.5))

STANDING = skeleton(
    FRONT_SHOULDERS, FRONT_HIPS, ((0.57, 0.7), (0.43, 0.7)), ((0.57, 0.9), (0.43, 0.9))
)
# Feet apart, seen from the front: a stance, not a step.
STANDING_FEET_APART = skeleton(
    FRONT_SHOULDERS, FRONT_HIPS, ((0.62, 0.7), (0.38, 0.7)), ((0.68, 0.9), (0.32, 0.9))
)
# Seen from the side, on a chair: thighs forward (horizontal), shins hanging.
SITTING_SIDE = skeleton(
    SIDE_SHOULDERS, SIDE_HIPS, ((0.72, 0.52), (0.7, 0.5)), ((0.72, 0.72), (0.7, 0.7))
)
# Facing the camera on a chair: thighs point at the camera, so they look short.
SITTING_FRONT = skeleton(
    FRONT_SHOULDERS, FRONT_HIPS, ((0.58, 0.56), (0.42, 0.56)), ((0.58, 0.76), (0.42, 0.76))
)
LYING = skeleton(
    ((0.2, 0.5), (0.2, 0.55)),
    ((0.45, 0.5), (0.45, 0.55)),
    ((0.65, 0.5), (0.65, 0.55)),
    ((0.85, 0.5), (0.85, 0.55)),
)
# Side view, one leg forward and one back, both nearly straight.
WALKING = skeleton(
    SIDE_SHOULDERS, SIDE_HIPS, ((0.58, 0.7), (0.43, 0.7)), ((0.64, 0.9), (0.37, 0.9))
)
# Side view, the back leg's knee sharply bent (the foot kicked up behind), a long stride.
RUNNING = skeleton(
    ((0.55, 0.26), (0.51, 0.25)),
    SIDE_HIPS,
    ((0.64, 0.66), (0.42, 0.68)),
    ((0.7, 0.86), (0.26, 0.72)),
)
HIDDEN_LEGS = skeleton(FRONT_SHOULDERS, FRONT_HIPS, None, None)
# Cut at the knees: thighs hanging straight down still say standing, less surely.
KNEES_ONLY = skeleton(FRONT_SHOULDERS, FRONT_HIPS, ((0.57, 0.7), (0.43, 0.7)), None)
# Cut at the knees with the thighs forward: seated, whatever the shins do.
KNEES_FORWARD = skeleton(SIDE_SHOULDERS, SIDE_HIPS, ((0.72, 0.52), (0.7, 0.5)), None)
# Cut at the knees, one thigh forward: a step, or a seat; not clear.
KNEES_APART = skeleton(SIDE_SHOULDERS, SIDE_HIPS, ((0.62, 0.68), (0.4, 0.68)), None)
# The torso at 45 degrees: bending over, which no posture word here covers.
BENDING = skeleton(
    ((0.3, 0.3), (0.3, 0.32)),
    ((0.5, 0.5), (0.5, 0.52)),
    ((0.5, 0.7), (0.5, 0.72)),
    ((0.5, 0.9), (0.5, 0.92)),
)


@pytest.mark.parametrize(
    ("keypoints", "expected"),
    [
        (STANDING, "standing"),
        (STANDING_FEET_APART, "standing"),
        (SITTING_SIDE, "sitting"),
        (SITTING_FRONT, "sitting"),
        (LYING, "lying"),
        (WALKING, "walking"),
        (RUNNING, "running"),
        (HIDDEN_LEGS, None),
        (BENDING, None),
        (KNEES_ONLY, "standing"),
        (KNEES_FORWARD, "sitting"),
        (KNEES_APART, None),
    ],
    ids=[
        "standing",
        "feet-apart",
        "sitting-side",
        "sitting-front",
        "lying",
        "walking",
        "running",
        "hidden-legs",
        "bending",
        "knees-only",
        "knees-forward",
        "knees-apart",
    ],
)
def test_posture_from_made_up_keypoints(keypoints: np.ndarray, expected: str | None) -> None:
    activity, score = read_posture(keypoints)
    assert activity == expected
    if expected is None:
        assert score == 0.0
    else:
        assert 0.4 <= score <= 1.0


def test_knees_alone_are_less_sure_than_whole_legs() -> None:
    assert read_posture(KNEES_ONLY)[1] < read_posture(STANDING)[1]


def test_no_torso_no_posture() -> None:
    """Without shoulders seen, even perfect legs say nothing."""
    keypoints = STANDING.copy()
    keypoints[pose.LEFT_SHOULDER, 2] = keypoints[pose.RIGHT_SHOULDER, 2] = 0.1
    assert read_posture(keypoints) == (None, 0.0)


def test_unsure_joints_lower_the_score() -> None:
    sure = read_posture(STANDING)
    unsure = read_posture(
        skeleton(
            FRONT_SHOULDERS,
            FRONT_HIPS,
            ((0.57, 0.7), (0.43, 0.7)),
            ((0.57, 0.9), (0.43, 0.9)),
            confidence=0.4,
        )
    )
    assert sure[0] == unsure[0] == "standing"
    assert unsure[1] < sure[1]


def test_only_the_largest_people_are_posed() -> None:
    large = Box(0.1, 0.1, 0.5, 0.9, 0.9)
    similar = Box(0.5, 0.15, 0.85, 0.9, 0.8)
    small = Box(0.8, 0.5, 0.9, 0.7, 0.9)
    assert chosen_people((large, similar, small), 600) == [large, similar]
    assert chosen_people((large, small), 600) == [large]
    # A person 40 pixels tall is too small to read joints of.
    assert chosen_people((Box(0.1, 0.1, 0.2, 0.2, 0.9),), 400) == []
