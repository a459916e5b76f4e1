"""How far any sentence rule could take the offline captioner: the quality benchmark scored on
every word its models' evidence supports, not on the caption written from it.

The quality benchmark (``bench_quality``) scores a caption by the expected word groups it uses.
Here each picture also gets the best score of its caption and the two alternatives
``num_captions=3`` adds (what a perfect ranking of the sentences written now would reach), the
score of the caption with every thing found named too, and an "evidence caption": every word
some stage of the shipped pipeline gives grounds for, at two levels:

- ``stages``: what the sentence rules receive now: the things found at their categories' own
  thresholds (with the classifier's name for them), faces, the classifier's most likely class
  for the picture and for each box it looked at, the places, postures, colours, time of day and
  backdrop the evidence stages report, the text read, and every alternative caption and tag.
- ``models``: everything the models and pixel rules put out above noise: the classifier's five
  most likely classes for the picture and for each box, with the places its scene classes
  imply; every detection the detector keeps (score 0.2 and up, any category); every kind of
  ground or background (sky, trees, grass, road, water, snow) covering a fifth of its region by
  the pixel rules, whether or not the picture was found to be outdoors; a dark top (night) and a
  warm glowing sky (sunset) likewise.

Extra words cost nothing in this score, so each level is an upper bound on the hit rate of any
sentence rule that only chooses among that evidence, however well it chose: a word group no
evidence supports cannot be said without guessing. Prints, for each group of cases, the mean
hit rate of the captions written now beside the two bounds, and which kinds of expected words
no evidence supports. Held-out captions and ids are never printed: only means and counts.

    python -m benchmarks.bench_evidence_ceiling [--group FILE-STEM ...]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.quality.archives import SourceUnavailable
from benchmarks.quality.photos import Case, load_cases, load_image
from benchmarks.quality.scoring import mentions, score
from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner, surroundings
from imagecaption.models.offline.compose.sentence import Findings
from imagecaption.models.offline.compose.things import Thing
from imagecaption.models.offline.labels import Label, load_labels
from imagecaption.models.offline.objects import Detection
from imagecaption.models.offline.pixels import PixelGrid
from imagecaption.models.offline.skies import sunset

TOP_CLASSES = 5
PIXEL_SHARE = 0.2
OPTIONS = CaptionOptions(num_captions=3)


@dataclass
class Evidence:
    """The words one picture's evidence supports, at the two levels, each with the stage or
    model output it came from."""

    stages: list[tuple[str, str]] = field(default_factory=list)
    models: list[tuple[str, str]] = field(default_factory=list)


class _Recorder:
    """Stands between the captioner and its sentence writer and detector, keeping what they
    were given, so the bounds read the very evidence the caption was written from."""

    def __init__(self, captioner: OfflineCaptioner) -> None:
        models = captioner._models  # the benchmark reads the pipeline's own stages
        assert models is not None
        self.findings: list[Findings] = []
        self.detections: list[list[Detection]] = []
        self.looked: list[tuple[PixelGrid, np.ndarray, Sequence[Thing]]] = []
        writer, detector, reader = models.writer, models.objects, models.surroundings
        assert reader is not None
        original_read = reader.read

        def read(grid: PixelGrid, scene: np.ndarray, things: Sequence[Thing]) -> Any:
            self.looked.append((grid, scene, things))
            return original_read(grid, scene, things)

        object.__setattr__(reader, "read", read)
        original_write = writer.write

        def write(findings: Findings, options: CaptionOptions) -> Any:
            self.findings.append(findings)
            return original_write(findings, options)

        object.__setattr__(writer, "write", write)
        if detector is not None:
            original_detect = detector.detect_prepared

            def detect(prepared: Any) -> list[Detection]:
                found = list(original_detect(prepared))
                self.detections.append(found)
                return found

            object.__setattr__(detector, "detect_prepared", detect)


# Categories that are a word a caption could use ("bird", "building"), not a bookkeeping kind.
NOT_WORDS = frozenset({"place", "scene", "object", "ride", "sports", "device", "tool"})


def _label_words(label: Label) -> list[str]:
    category = "" if label.category in NOT_WORDS else label.category
    return [label.phrase, label.group, label.context, category]


def _top(probabilities: np.ndarray, count: int) -> Iterable[int]:
    return (int(index) for index in np.argsort(probabilities)[::-1][:count])


def pixel_places(grid: PixelGrid, scene: np.ndarray, things: Sequence[Thing]) -> list[str]:
    """Every ground and background the surroundings stage's pixel rules see over a fifth of
    their region, the places the classifier's five likeliest scene classes imply, and night or
    sunset, all without the stage's checks that the picture is outdoors."""
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
    words = [name for name, share in shares.items() if share >= PIXEL_SHARE]
    if stage._dark_top(grid):
        words += ["night", "dark"]
    if sunset(grid, regions.backdrop, 1.0) > 0.0:
        words += ["sunset", "sunrise", "dusk"]
    wnids = [load_labels()[index].wnid for index in _top(scene, TOP_CLASSES)]
    for wnid in wnids:
        below, behind = stage.SCENE_PLACES.get(wnid, ((), ()))
        words += [*below, *behind]
    return words


def evidence_of(
    findings: Findings, detections: Sequence[Detection], labels: Sequence[Label]
) -> Evidence:
    """Every word the stages hand the sentence rules, and every word the models give at all."""
    found = Evidence()

    def stage(source: str, words: Iterable[str]) -> None:
        found.stages += [(word, source) for word in words if word]

    for thing in findings.things:
        stage(
            "things", [thing.noun.label, thing.noun.singular, thing.noun.plural, thing.name or ""]
        )
    if findings.portrait:
        stage("faces", ["portrait", "person", "face"])
    for view, probabilities in [("picture", findings.scene), *findings.crops.items()]:
        source = "class" if view == "picture" else "box class"
        stage(source, _label_words(labels[int(np.argmax(probabilities))]))
        for index in _top(probabilities, TOP_CLASSES):
            found.models += [(word, "next classes") for word in _label_words(labels[index])]
    stage("text", [line.text for line in findings.text])
    stage("posture", [pose.activity for pose in findings.poses if pose.activity])
    stage("colours", [colour.name for colour in findings.colours.values()])
    where = findings.surroundings
    if where is not None:
        stage("places", [place.name for place in (*where.ground, *where.background)])
        if where.indoors is not None:
            stage(
                "indoors", ["indoors", "inside", "room"] if where.indoors >= 0.5 else ["outdoors"]
            )
        if where.night > 0.0:
            stage("night", ["night", "dark"])
        if where.sunset > 0.0:
            stage("sunset", ["sunset", "sunrise", "dusk"])
        if where.backdrop is not None:
            stage("backdrop", [where.backdrop.name, "background"])
    found.models += [(detection.label, "detections") for detection in detections]
    return found


@dataclass(frozen=True)
class Bounds:
    case: Case
    caption: float
    best: float  # the best of the caption and its alternatives
    things: float  # the caption with every thing found named too
    stages: float
    models: float
    unsupported: tuple[str, ...]  # the first word of each group no evidence supports
    # The words a level adds to the one before it, by source, each with whether it is one of
    # the picture's expected words.
    stage_words: tuple[tuple[str, str, bool], ...]
    model_words: tuple[tuple[str, str, bool], ...]


def _added(
    before: str, words: Sequence[tuple[str, str]], case: Case
) -> tuple[tuple[str, str, bool], ...]:
    """The words of ``words`` that ``before`` does not say, once each, and whether each is
    expected of the picture."""
    seen: dict[str, tuple[str, str, bool]] = {}
    for word, source in words:
        plain = _plain(word.removeprefix("a ").removeprefix("an ").removeprefix("the "))
        if not plain or plain in seen or mentions(before, plain):
            continue
        expected = any(mentions(word, name) for group in case.expected for name in group)
        seen[plain] = (plain, source, expected)
    return tuple(seen.values())


def measure(cases: Sequence[Case]) -> list[Bounds]:
    captioner = OfflineCaptioner(threads=2)
    captioner.load()
    recorder = _Recorder(captioner)
    labels = load_labels()
    results = []
    for case in cases:
        try:
            image = load_image(case)
        except SourceUnavailable as error:
            print(f"skipped {case.id}: {error}", file=sys.stderr)
            continue
        recorder.findings.clear()
        recorder.detections.clear()
        recorder.looked.clear()
        caption = captioner.caption_batch([image], OPTIONS)[0]
        findings = recorder.findings[0]
        detections = recorder.detections[0] if recorder.detections else []
        found = evidence_of(findings, detections, labels)
        if recorder.looked:
            found.models += [(word, "pixels") for word in pixel_places(*recorder.looked[0])]
        sentences = [caption.text, *(candidate.text for candidate in caption.candidates)]
        alternatives = [candidate.text for candidate in caption.candidates]
        alternatives += [tag.name for tag in caption.tags or ()]
        stages = " ; ".join([caption.text, *alternatives, *(word for word, _ in found.stages)])
        named = " ; ".join(
            [caption.text, *(word for word, source in found.stages if source == "things")]
        )
        models = " ; ".join([stages, *(word for word, _ in found.models)])
        models_score = score(models, case.expected)
        unsupported = tuple(
            group[0]
            for group, hit in zip(case.expected, models_score.matched, strict=True)
            if not hit
        )
        results.append(
            Bounds(
                case,
                score(caption.text, case.expected).hit_rate,
                max(score(text, case.expected).hit_rate for text in sentences),
                score(named, case.expected).hit_rate,
                score(stages, case.expected).hit_rate,
                models_score.hit_rate,
                unsupported,
                _added(
                    caption.text,
                    [*((text, "alternatives, tags") for text in alternatives), *found.stages],
                    case,
                ),
                _added(stages, found.models, case),
            )
        )
    return results


def _mean(values: Iterable[float]) -> float:
    listed = list(values)
    return statistics.fmean(listed) if listed else 0.0


def report(results: Sequence[Bounds]) -> None:
    columns = ("caption", "best", "+things", "stages", "models")
    print(f"{'group':<32} {'part':<9} {'n':>4} " + " ".join(f"{name:>8}" for name in columns))
    keyed: dict[tuple[str, str], list[Bounds]] = {}
    for result in results:
        part = "held-out" if result.case.held_out else "tuning"
        keyed.setdefault((result.case.group, part), []).append(result)
        keyed.setdefault(("all groups", part), []).append(result)
    for (group, part), chosen in sorted(
        keyed.items(), key=lambda item: (item[0][0] == "all groups", item[0])
    ):
        print(
            f"{group:<32} {part:<9} {len(chosen):>4} "
            f"{_mean(r.caption for r in chosen):>8.3f} {_mean(r.best for r in chosen):>8.3f} "
            f"{_mean(r.things for r in chosen):>8.3f} "
            f"{_mean(r.stages for r in chosen):>8.3f} "
            f"{_mean(r.models for r in chosen):>8.3f}"
        )
    for part in ("tuning", "held-out"):
        words = Counter(
            _plain(word)
            for result in results
            if (result.case.held_out == (part == "held-out"))
            for word in result.unsupported
        )
        total = sum(words.values())
        print(f"\n{part}: {total} expected word groups no evidence supports; most often:")
        print("  " + ", ".join(f"{word} {count}" for word, count in words.most_common(40)))


def precision(results: Sequence[Bounds]) -> None:
    """How often a word a level adds is one a person expected: the share is a floor on how
    often it is right (the expected words do not list every true thing), but a low one says
    the level's extra words are mostly noise that a rule could not say without false words."""
    print("\nwords each level adds beyond the one before, and how many are expected words:")
    for part in ("tuning", "held-out"):
        chosen = [r for r in results if r.case.held_out == (part == "held-out")]
        counts: dict[str, list[int]] = {}
        for result in chosen:
            for _, source, is_expected in (*result.stage_words, *result.model_words):
                tally = counts.setdefault(source, [0, 0])
                tally[0] += 1
                tally[1] += int(is_expected)
        for source, (total, expected) in counts.items():
            share = expected / total if total else 0.0
            print(
                f"  {part:<9} {source:<13} {total:>6} words, {expected:>5} expected ({share:.1%})"
            )


def _plain(word: str) -> str:
    return re.sub(r"\s+", " ", word.lower())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--group", action="append", help="only these cases files (file stems)")
    arguments = parser.parse_args()
    cases = [case for case in load_cases() if not arguments.group or case.group in arguments.group]
    results = measure(cases)
    report(results)
    precision(results)


if __name__ == "__main__":
    main()
