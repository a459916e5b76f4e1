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


@dataclass(frozen=True)
class Word:
    """A word some evidence supports, where it came from, and how sure that evidence is (the
    model's probability or score, or the share of its region a pixel rule matched)."""

    text: str
    source: str
    score: float


@dataclass
class Evidence:
    """The words one picture's evidence supports, at the two levels, each with the stage or
    model output it came from."""

    stages: list[Word] = field(default_factory=list)
    models: list[Word] = field(default_factory=list)


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


def pixel_places(grid: PixelGrid, scene: np.ndarray, things: Sequence[Thing]) -> list[Word]:
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
    words = [Word(name, "pixels", share) for name, share in shares.items() if share >= PIXEL_SHARE]
    if stage._dark_top(grid):
        words += [Word(name, "pixels", 1.0) for name in ("night", "dark")]
    glow = sunset(grid, regions.backdrop, 1.0)
    if glow > 0.0:
        words += [Word(name, "pixels", glow) for name in ("sunset", "sunrise", "dusk")]
    for index in _top(scene, TOP_CLASSES):
        below, behind = stage.SCENE_PLACES.get(load_labels()[index].wnid, ((), ()))
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
        stage(source, float(probabilities[best]), _label_words(labels[best]))
        for index in _top(probabilities, TOP_CLASSES):
            chance = float(probabilities[index])
            found.models += [
                Word(word, "next classes", chance) for word in _label_words(labels[index])
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


@dataclass(frozen=True)
class Bounds:
    case: Case
    caption: float
    best: float  # the best of the caption and its alternatives
    things: float  # the caption with every thing found named too
    stages: float
    models: float
    unsupported: tuple[str, ...]  # the first word of each group no evidence supports
    # The words a level adds to the one before it, and every word any level adds to the
    # caption, each once with whether it is one of the picture's expected words.
    stage_words: tuple[Added, ...]
    model_words: tuple[Added, ...]
    beyond_caption: tuple[Added, ...]
    text: str  # the caption


@dataclass(frozen=True)
class Added:
    word: Word
    expected: bool


def _added(before: str, words: Sequence[Word], case: Case) -> tuple[Added, ...]:
    """The words of ``words`` that ``before`` does not say, once each (at the surest
    evidence for it), and whether each is expected of the picture."""
    seen: dict[str, Added] = {}
    for word in words:
        plain = _plain(word.text.removeprefix("a ").removeprefix("an ").removeprefix("the "))
        if not plain or mentions(before, plain):
            continue
        if plain in seen and seen[plain].word.score >= word.score:
            continue
        expected = any(mentions(word.text, name) for group in case.expected for name in group)
        seen[plain] = Added(Word(plain, word.source, word.score), expected)
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
            found.models += pixel_places(*recorder.looked[0])
        sentences = [caption.text, *(candidate.text for candidate in caption.candidates)]
        alternatives = [
            *(Word(c.text, "alternatives", c.score) for c in caption.candidates),
            *(Word(tag.name, "tags", tag.score) for tag in caption.tags or ()),
        ]
        stage_words = [*alternatives, *found.stages]
        stages = " ; ".join([caption.text, *(word.text for word in stage_words)])
        named = " ; ".join(
            [caption.text, *(word.text for word in found.stages if word.source == "things")]
        )
        models = " ; ".join([stages, *(word.text for word in found.models)])
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
                _added(caption.text, stage_words, case),
                _added(stages, found.models, case),
                _added(caption.text, [*stage_words, *found.models], case),
                caption.text,
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
            for added in (*result.stage_words, *result.model_words):
                tally = counts.setdefault(added.word.source, [0, 0])
                tally[0] += 1
                tally[1] += int(added.expected)
        for source, (total, expected) in counts.items():
            share = expected / total if total else 0.0
            print(
                f"  {part:<9} {source:<13} {total:>6} words, {expected:>5} expected ({share:.1%})"
            )


# A rule that says a word wherever its evidence reaches a threshold: the thresholds are fitted on
# the tuning photos, per kind of evidence and per word of it that they give often enough.
PRECISION = 0.5
LEAST_WORDS = 8
LEAST_KEPT = 4
THRESHOLDS = tuple(step / 20 for step in range(20))
Key = tuple[str, str]  # (source, word), or (source, "") for the whole source


def fit_thresholds(tuning: Sequence[Bounds]) -> dict[Key, float | None]:
    """For each source, and each word a source gives at least LEAST_WORDS times on the tuning
    photos, the lowest threshold at which at least half the words it would add are expected of
    the picture; None where no threshold is that precise (never say it)."""
    gathered: dict[Key, list[Added]] = {}
    for result in tuning:
        for added in result.beyond_caption:
            gathered.setdefault((added.word.source, added.word.text), []).append(added)
            gathered.setdefault((added.word.source, ""), []).append(added)
    fitted: dict[Key, float | None] = {}
    for key, words in gathered.items():
        if key[1] and len(words) < LEAST_WORDS:
            continue
        fitted[key] = None
        for threshold in THRESHOLDS:
            kept = [added for added in words if added.word.score >= threshold]
            if len(kept) >= LEAST_KEPT and sum(a.expected for a in kept) >= PRECISION * len(kept):
                fitted[key] = threshold
                break
    return fitted


def said(added: Added, fitted: dict[Key, float | None]) -> bool:
    word = added.word
    key = (word.source, word.text) if (word.source, word.text) in fitted else (word.source, "")
    threshold = fitted.get(key)
    return threshold is not None and word.score >= threshold


def thresholded(results: Sequence[Bounds]) -> None:
    """The hit rate of the caption with every word whose evidence passes thresholds fitted on
    the tuning photos to be at least half precise: what a rule could reach that accepted one
    unexpected word for each expected one, with how many it would bring."""
    fitted = fit_thresholds([result for result in results if not result.case.held_out])
    print(f"\ncaption + every word whose evidence is at least {PRECISION:.0%} precise on tuning:")
    kept = sorted(
        f"{source}{':' + word if word else ''} >= {threshold:.2f}"
        for (source, word), threshold in fitted.items()
        if threshold is not None
    )
    print("  thresholds: " + ", ".join(kept))
    for part in ("tuning", "held-out"):
        chosen = [r for r in results if r.case.held_out == (part == "held-out")]
        scores, extra, right = [], 0, 0
        for result in chosen:
            words = [added for added in result.beyond_caption if said(added, fitted)]
            extra += len(words)
            right += sum(added.expected for added in words)
            text = " ; ".join([result.text, *(added.word.text for added in words)])
            scores.append(score(text, result.case.expected).hit_rate)
        share = right / extra if extra else 0.0
        print(
            f"  {part:<9} {_mean(scores):.3f} (caption {_mean(r.caption for r in chosen):.3f}); "
            f"{extra / max(1, len(chosen)):.1f} words added a picture, {share:.0%} expected"
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
    thresholded(results)


if __name__ == "__main__":
    main()
