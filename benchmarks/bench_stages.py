"""Where the offline captioner's time goes: each stage timed inside whole captions, in process.

The captioner captions the corpus's tuning photos one at a time (batch of 1, reading off, as the
speed targets are stated), while every stage's function is timed where the pipeline calls it:
the pre-processing views, each model, the evidence stages and the sentence writer. Prints, per
stage, how often it ran, its median when it ran and its mean share of a caption, largest first,
so that a change can be aimed at the stage that costs most. Stage times include no waiting for
another stage (the pipeline runs them one after another), so they add up to about the total.

    python -m benchmarks.bench_stages [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.quality.photos import load_cases
from benchmarks.quality.photos import photo as corpus_photo
from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner, captioner
from imagecaption.models.offline.classifier import Classifier
from imagecaption.models.offline.compose.sentence import SentenceWriter
from imagecaption.models.offline.faces import FaceDetector
from imagecaption.models.offline.objects import ObjectDetector
from imagecaption.models.offline.pose import PoseReader
from imagecaption.models.offline.surroundings import SurroundingsReader

THREADS = 2
# The functions the pipeline calls by name from captioner.py, and the models' methods it calls.
FUNCTIONS = (
    "_working_copy", "fitted", "classifier_input", "letterbox", "detector_input",
    "picture_stats", "pixel_grid", "find_things", "region_input", "thing_colours",
)  # fmt: skip
METHODS = (
    (ObjectDetector, "detect_prepared", "objects (model)"),
    (FaceDetector, "detect_prepared", "faces (model)"),
    (Classifier, "probabilities", "classifier (picture and crops)"),
    (PoseReader, "poses", "pose (model)"),
    (SurroundingsReader, "read", "surroundings"),
    (SentenceWriter, "write", "sentence"),
)


def _timed(action: Callable[..., Any], stage: str, spent: dict[str, float]) -> Callable[..., Any]:
    def timed(*arguments: Any, **keywords: Any) -> Any:
        started = time.perf_counter()
        try:
            return action(*arguments, **keywords)
        finally:
            elapsed = 1000 * (time.perf_counter() - started)
            spent[stage] = spent.get(stage, 0.0) + elapsed

    return timed


def _instrument(spent: dict[str, float]) -> None:
    """Wraps every stage so that each call adds its milliseconds to ``spent``."""
    for name in FUNCTIONS:
        if hasattr(captioner, name):  # an older tree may lack a stage
            setattr(captioner, name, _timed(getattr(captioner, name), name, spent))
    for owner, method, stage in METHODS:
        setattr(owner, method, _timed(getattr(owner, method), stage, spent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="passes over the photos")
    arguments = parser.parse_args()
    photos = [corpus_photo(case.id) for case in load_cases() if not case.held_out]
    for image in photos:
        image.load()  # decoding is not a stage of the captioner
    spent: dict[str, float] = {}
    _instrument(spent)
    model = OfflineCaptioner(THREADS)
    model.load()
    options = CaptionOptions(read_text=False)
    for image in photos[:5]:  # warm up
        model.caption_batch([image], options)
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(arguments.rounds):
        for image in photos:
            spent.clear()
            started = time.perf_counter()
            model.caption_batch([image], options)
            totals.append(1000 * (time.perf_counter() - started))
            for stage, milliseconds in spent.items():
                stages.setdefault(stage, []).append(milliseconds)
    count = len(totals)
    print(f"{len(photos)} tuning photos x {arguments.rounds}, batch of 1, {THREADS} threads")
    print(f"{'whole caption':>32}: median {statistics.median(totals):6.2f} ms")
    for stage, values in sorted(stages.items(), key=lambda item: -sum(item[1])):
        print(
            f"{stage:>32}: ran {len(values):4d}x  median {statistics.median(values):6.2f} ms"
            f"  mean per caption {sum(values) / count:6.2f} ms"
        )


if __name__ == "__main__":
    main()
