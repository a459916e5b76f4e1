"""The default captioner: runs offline on a small CPU, with weights that install from registries.

Five stages, one module each, data flowing one way: ``preprocess`` resizes for every model (in
the engine's thread pool); the detectors find objects and faces (``objects.py``, ``faces.py``);
the classifier names the whole picture and the boxes worth a closer look (``classifier.py``);
the reader reads the words in pictures that seem to have some (``text_cues.py``, ``text.py``);
the evidence stages say what the largest people do (``pose.py``), where the picture was taken
(``surroundings.py``) and whether at sunset (``skies.py``), and the clear colours of things
(``colours.py``); ``compose/`` turns what was found into sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image

from imagecaption.models.base import Caption, Captioner, CaptionOptions, ModelInfo, TextLine
from imagecaption.models.offline.classifier import Classifier, classifier_input, region_input
from imagecaption.models.offline.colours import thing_colours
from imagecaption.models.offline.compose.kind import PictureStats, is_grey, picture_stats
from imagecaption.models.offline.compose.languages import languages
from imagecaption.models.offline.compose.sentence import (
    Findings,
    SentenceWriter,
)
from imagecaption.models.offline.compose.text import lines_to_read
from imagecaption.models.offline.compose.things import Thing, find_things
from imagecaption.models.offline.compose.vocabulary import Noun, load_nouns
from imagecaption.models.offline.evidence import Colour, Pose, Surroundings
from imagecaption.models.offline.faces import FaceDetector, Letterboxed, letterbox
from imagecaption.models.offline.labels import load_labels
from imagecaption.models.offline.objects import ObjectDetector, detector_input, fitted
from imagecaption.models.offline.pixels import PixelGrid, pixel_grid
from imagecaption.models.offline.pose import PoseReader
from imagecaption.models.offline.regions import Box
from imagecaption.models.offline.surroundings import SurroundingsReader
from imagecaption.models.offline.text import TextReader, load_reader
from imagecaption.models.offline.text_cues import TextCues

NAME = "offline-scene"
CLASSIFIER_ONLY = "offline-classifier"
# The models look at a few hundred pixels at most, so a big photo is first shrunk by a whole
# factor (cheap) to at least this short side, instead of resampling megapixels several times.
WORKING_SIDE = 512
# Boxes are widened by this share of their size before the classifier sees them: ImageNet
# photos show their subject with some surroundings.
CROP_MARGIN = 0.1
# The classifier looks closer at no more than this many boxes per picture.
CROPS_PER_PICTURE = 2


class OfflineCaptioner(Captioner):
    """Object detector, face detector and ImageNet classifier, put into words by templates.

    All models ship in the package as ONNX files, so nothing is built or downloaded at start.
    ``threads`` is how many cores each model may use (0: all of them); without ``objects`` the
    object detector is not run, and captions come from the classifier and faces alone. Without
    ``evidence`` the pose, surroundings and colour stages are not run (the captioner as it was
    before them, which the benchmarks compare against).
    """

    def __init__(self, threads: int = 0, *, objects: bool = True, evidence: bool = True) -> None:
        self._threads = threads
        self._objects = objects
        self._evidence = evidence
        self._models: _Models | None = None

    @property
    def info(self) -> ModelInfo:
        name = NAME if self._objects else CLASSIFIER_ONLY
        reader = self._models.reader if self._models else None
        return ModelInfo(
            name=name,
            backend="onnx",
            device="cpu",
            preferred_batch_size=8,
            text_reader=reader.name if reader else None,
            languages=languages(),
        )

    def load(self) -> None:
        nouns = load_nouns()
        labels = load_labels()
        self._models = _Models(
            classifier=Classifier(self._threads),
            faces=FaceDetector(self._threads),
            objects=ObjectDetector(self._threads) if self._objects else None,
            nouns=nouns,
            writer=SentenceWriter(labels, nouns),
            cues=TextCues(labels),
            reader=load_reader(self._threads),
            poses=PoseReader(self._threads) if self._evidence else None,
            surroundings=SurroundingsReader(labels) if self._evidence else None,
        )

    def preprocess(self, image: Image.Image) -> Prepared:
        """The resizing every model needs, done in the engine's thread pool (off the model
        thread). Only the crops of detected boxes are left to the worker.

        The pixel statistics' thumbnail is made from the detector's smaller view (``fitted``)
        rather than from the working copy, which saves one resampling of the working copy with
        the same captions on the quality corpus's tuning set. The face detector's and the pixel
        grid's views stay on the working copy: made from the smaller view, they changed two of
        its 189 captions and lowered its hit rate (0.465 to 0.462).
        """
        rgb = _working_copy(image)
        small = fitted(rgb)
        return Prepared(
            rgb=rgb,
            scene_input=classifier_input(rgb),
            faces_input=letterbox(rgb),
            objects_input=detector_input(small) if self._objects else None,
            stats=picture_stats(small),
            grid=pixel_grid(rgb) if self._evidence else None,
        )

    def caption_batch(
        self, images: Sequence[Image.Image], options: CaptionOptions
    ) -> list[Caption]:
        return self.caption_prepared([self.preprocess(image) for image in images], options)

    def caption_prepared(self, inputs: Sequence[Any], options: CaptionOptions) -> list[Caption]:
        """Detect in each picture, then classify every picture and its chosen boxes in one
        classifier run (cheaper per image than one run each), then write."""
        if self._models is None:
            raise RuntimeError("OfflineCaptioner.load() must be called before captioning")
        models = self._models
        prepared: list[Prepared] = list(inputs)
        if not prepared:
            return []
        found = [
            find_things(
                models.objects.detect_prepared(item.objects_input) if models.objects else [],
                models.faces.detect_prepared(item.faces_input),
                models.nouns,
            )
            for item in prepared
        ]
        wanted = [self._crops(things) for things, _ in found]
        views = [item.scene_input for item in prepared]
        views += [
            region_input(item.rgb, _pixels(box, item.rgb))
            for item, crops in zip(prepared, wanted, strict=True)
            for _, box in crops
        ]
        probabilities = iter(models.classifier.probabilities(views))
        scenes = [next(probabilities) for _ in prepared]
        captions = []
        for item, (things, portrait), crops, scene in zip(
            prepared, found, wanted, scenes, strict=True
        ):
            views_of = {label: next(probabilities) for label, _ in crops}
            lines = self._read(item, scene, views_of, things, options)
            poses, surroundings, colours = self._evidence_of(item, scene, things, portrait)
            findings = Findings(
                things,
                portrait,
                scene,
                views_of,
                item.stats,
                lines or (),
                poses=poses,
                surroundings=surroundings,
                colours=colours,
            )
            caption = models.writer.write(findings, options)
            captions.append(replace(caption, text_lines=lines))
        return captions

    def _read(
        self,
        item: Prepared,
        scene: np.ndarray,
        crops: dict[str, np.ndarray],
        things: Sequence[Thing],
        options: CaptionOptions,
    ) -> tuple[TextLine, ...] | None:
        """The read stage, for pictures whose cues suggest text and where the reader's own
        check finds some; None when reading is off or no reader is installed."""
        assert self._models is not None
        reader, cues = self._models.reader, self._models.cues
        if reader is None or not options.read_text:
            return None
        if not cues.suggest_text(scene, crops.values(), things, item.stats):
            return ()
        return reader.look(item.rgb, None if options.every_line else lines_to_read)

    def _evidence_of(
        self, item: Prepared, scene: np.ndarray, things: Sequence[Thing], portrait: bool
    ) -> tuple[tuple[Pose, ...], Surroundings | None, dict[str, Colour]]:
        """What the largest people do, where the picture was taken, and the things' clear
        colours (none in a black and white picture, where every thing would be grey).

        A portrait gets no pose: a face that fills a quarter of the picture leaves no room for
        the hips and knees a posture is read from, so the pose model's time would be wasted.
        """
        models = self._models
        assert models is not None
        if models.poses is None or models.surroundings is None or item.grid is None:
            return (), None, {}
        people = next((thing.boxes for thing in things if thing.has("person")), ())
        poses = models.poses.poses(item.rgb, people) if people and not portrait else ()
        surroundings = models.surroundings.read(item.grid, scene, things)
        colours: dict[str, Colour] = {}
        if not is_grey(item.stats):
            colours = thing_colours(item.grid, [(thing.noun.label, thing.main) for thing in things])
        return poses, surroundings, colours

    @staticmethod
    def _crops(things: Sequence[Thing]) -> list[tuple[str, Box]]:
        """The boxes the classifier looks at closely: the most salient ones, to name them
        precisely, correct the detector, or see what a person wears or plays.

        Even a box that fills most of the picture is cropped: the classifier's centre crop of
        the whole picture cuts off what a person wears below the face, or half a dog.
        """
        return [(thing.noun.label, thing.main) for thing in things[:CROPS_PER_PICTURE]]


@dataclass(frozen=True)
class _Models:
    classifier: Classifier
    faces: FaceDetector
    objects: ObjectDetector | None
    nouns: dict[str, Noun]
    writer: SentenceWriter
    cues: TextCues
    reader: TextReader | None
    poses: PoseReader | None
    surroundings: SurroundingsReader | None


@dataclass(frozen=True)
class Prepared:
    """One image made ready for every model."""

    rgb: Image.Image
    scene_input: np.ndarray
    faces_input: Letterboxed
    objects_input: Any
    stats: PictureStats
    grid: PixelGrid | None = None


def _pixels(box: Box, image: Image.Image) -> tuple[float, float, float, float]:
    """``box`` widened by the margin, as a pixel region of ``image`` at least a pixel wide."""
    dx, dy = CROP_MARGIN * box.width, CROP_MARGIN * box.height
    left = min(max(0.0, box.left - dx) * image.width, image.width - 1.0)
    top = min(max(0.0, box.top - dy) * image.height, image.height - 1.0)
    right = max(min(1.0, box.right + dx) * image.width, left + 1.0)
    bottom = max(min(1.0, box.bottom + dy) * image.height, top + 1.0)
    return left, top, right, bottom


def _working_copy(image: Image.Image) -> Image.Image:
    """``image`` as RGB, shrunk by a whole factor while its short side stays >= WORKING_SIDE."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    factor = min(rgb.size) // WORKING_SIDE
    return rgb.reduce(factor) if factor > 1 else rgb
