"""The words the offline captioner's evidence supports, read from its own stages as it captions.

The evidence ceiling benchmark (``bench_evidence_ceiling``) scores these words in place of the
caption, to bound what any sentence rule over the same models could say. ``Recorder`` stands
between the captioner and three of its stages, so the words come from the very findings each
caption was written from rather than from a second copy of the pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner, surroundings
from imagecaption.models.offline.compose.sentence import Findings
from imagecaption.models.offline.compose.things import Thing
from imagecaption.models.offline.labels import Label
from imagecaption.models.offline.objects import Detection
from imagecaption.models.offline.pixels import PixelGrid
from imagecaption.models.offline.skies import sunset

TOP_CLASSES = 5
PIXEL_SHARE = 0.2


@dataclass(frozen=True)
class Word:
    """A word some evidence supports, where it came from, and how sure that evidence is (the
    model's probability or score, or the share of its region a pixel rule matched)."""

    text: str
    source: str
    score: float


Looked = tuple[PixelGrid, np.ndarray, Sequence[Thing]]
"""What the surroundings stage read a picture from: its pixel grid, the classifier's
probabilities for it and the things found in it."""


@dataclass
class Evidence:
    """The words one picture's evidence supports, at the two levels, each with the stage or
    model output it came from."""

    stages: list[Word] = field(default_factory=list)
    models: list[Word] = field(default_factory=list)


class Recorder:
    """Stands between the captioner and its sentence writer and detector, keeping what they
    were given, so the bounds read the very evidence the caption was written from."""

    def __init__(self, captioner: OfflineCaptioner) -> None:
        models = captioner._models  # the benchmark reads the pipeline's own stages
        assert models is not None
        self._findings: list[Findings] = []
        self._detections: list[list[Detection]] = []
        self._looked: list[Looked] = []
        writer, detector, reader = models.writer, models.objects, models.surroundings
        assert reader is not None
        original_read = reader.read

        def read(grid: PixelGrid, scene: np.ndarray, things: Sequence[Thing]) -> Any:
            self._looked.append((grid, scene, things))
            return original_read(grid, scene, things)

        object.__setattr__(reader, "read", read)
        original_write = writer.write

        def write(findings: Findings, options: CaptionOptions) -> Any:
            self._findings.append(findings)
            return original_write(findings, options)

        object.__setattr__(writer, "write", write)
        if detector is not None:
            original_detect = detector.detect_prepared

            def detect(prepared: Any) -> list[Detection]:
                found = list(original_detect(prepared))
                self._detections.append(found)
                return found

            object.__setattr__(detector, "detect_prepared", detect)

    def take(self) -> tuple[Findings, list[Detection], Looked | None]:
        """What the stages were given for the one picture just captioned; forgotten then, so
        the next picture's record starts empty."""
        record = (
            self._findings[0],
            self._detections[0] if self._detections else [],
            self._looked[0] if self._looked else None,
        )
        self._findings.clear()
        self._detections.clear()
        self._looked.clear()
        return record


# Categories that are a word a caption could use ("bird", "building"), not a bookkeeping kind.
NOT_WORDS = frozenset({"place", "scene", "object", "ride", "sports", "device", "tool"})


def label_words(label: Label) -> list[str]:
    category = "" if label.category in NOT_WORDS else label.category
    return [label.phrase, label.group, label.context, category]


def top(probabilities: np.ndarray, count: int) -> Iterable[int]:
    return (int(index) for index in np.argsort(probabilities)[::-1][:count])


def pixel_places(looked: Looked, labels: Sequence[Label]) -> list[Word]:
    """Every ground and background the surroundings stage's pixel rules see over a fifth of
    their region, the places the classifier's five likeliest scene classes imply, and night or
    sunset, all without the stage's checks that the picture is outdoors."""
    grid, scene, things = looked
    stage = surroundings
    regions = stage._regions(grid, things)
    shares = {
        "sky": stage._share(stage._sky(grid), regions.sky_band),
        "trees": stage._share(stage._foliage(grid), regions.background),
        "grass": stage._share(stage._grass(grid), regions.ground),
        "road": stage._share(stage._road(grid), regions.ground),
        "water": stage._share(stage._water(grid), regions.ground),
        "snow": stage._share(stage._snow(grid), regions.ground),
    }
    words = [Word(name, "pixels", share) for name, share in shares.items() if share >= PIXEL_SHARE]
    if stage._dark_top(grid):
        words += [Word(name, "pixels", 1.0) for name in ("night", "dark")]
    glow = sunset(grid, regions.backdrop, 1.0)
    if glow > 0.0:
        words += [Word(name, "pixels", glow) for name in ("sunset", "sunrise", "dusk")]
    for index in top(scene, TOP_CLASSES):
        below, behind = stage.SCENE_PLACES.get(labels[index].wnid, ((), ()))
        words += [Word(name, "scene places", float(scene[index])) for name in (*below, *behind)]
    return words


def evidence_of(
    findings: Findings, detections: Sequence[Detection], labels: Sequence[Label]
) -> Evidence:
    """Every word the stages hand the sentence rules, and every word the models give at all."""
    found = Evidence()

    def stage(source: str, score: float, words: Iterable[str]) -> None:
        found.stages += [Word(word, source, score) for word in words if word]

    for thing in findings.things:
        words = [thing.noun.label, thing.noun.singular, thing.noun.plural, thing.name or ""]
        stage("things", thing.score, words)
    if findings.portrait:
        stage("faces", 1.0, ["portrait", "person", "face"])
    for view, probabilities in [("picture", findings.scene), *findings.crops.items()]:
        source = "class" if view == "picture" else "box class"
        best = int(np.argmax(probabilities))
        stage(source, float(probabilities[best]), label_words(labels[best]))
        for index in top(probabilities, TOP_CLASSES):
            chance = float(probabilities[index])
            found.models += [
                Word(word, "next classes", chance) for word in label_words(labels[index])
            ]
    stage("text", 1.0, [line.text for line in findings.text])
    for pose in findings.poses:
        stage("posture", pose.score, [pose.activity or ""])
    for colour in findings.colours.values():
        stage("colours", colour.score, [colour.name])
    where = findings.surroundings
    if where is not None:
        for place in (*where.ground, *where.background):
            stage("places", place.score, [place.name])
        if where.indoors is not None:
            inside = where.indoors >= 0.5
            sure = where.indoors if inside else 1.0 - where.indoors
            stage("indoors", sure, ["indoors", "inside", "room"] if inside else ["outdoors"])
        stage("night", where.night, ["night", "dark"] if where.night > 0.0 else [])
        stage("sunset", where.sunset, ["sunset", "sunrise", "dusk"] if where.sunset > 0.0 else [])
        if where.backdrop is not None:
            stage("backdrop", where.backdrop.score, [where.backdrop.name, "background"])
    found.models += [
        Word(detection.label, "detections", detection.score) for detection in detections
    ]
    return found
