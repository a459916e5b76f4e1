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
hit rate of the captions written now beside the bounds; which expected words no evidence
supports; how often the words each level adds are expected words, by where they come from; and
what a rule would reach that said every word whose evidence passed thresholds fitted on the
tuning photos to be at least half precise (``quality/added_words.py``). The words come from the
pipeline's own stages as it captions (``quality/evidence_words.py``). Held-out captions and ids
are never printed: only means and counts.

    python -m benchmarks.bench_evidence_ceiling [--group FILE-STEM ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from benchmarks.bench_quality import SETS, set_name
from benchmarks.quality.added_words import (
    PRECISION,
    Added,
    added_words,
    fit_thresholds,
    plain,
    said,
)
from benchmarks.quality.evidence_words import Recorder, Word, evidence_of, pixel_places
from benchmarks.quality.photos import Case, available, load_cases, load_image
from benchmarks.quality.scoring import score
from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.models.offline.labels import load_labels

OPTIONS = CaptionOptions(num_captions=3)


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


def measure(cases: Sequence[Case]) -> list[Bounds]:
    captioner = OfflineCaptioner(threads=2)
    captioner.load()
    recorder = Recorder(captioner)
    labels = load_labels()
    found_cases, skipped = available(list(cases))
    for _, reason in skipped:
        print(f"skipped {reason}", file=sys.stderr)
    results = []
    for case in found_cases:
        caption = captioner.caption_batch([load_image(case)], OPTIONS)[0]
        findings, detections, looked = recorder.take()
        found = evidence_of(findings, detections, labels)
        if looked is not None:
            found.models += pixel_places(looked, labels)
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
                added_words(caption.text, stage_words, case),
                added_words(stages, found.models, case),
                added_words(caption.text, [*stage_words, *found.models], case),
                caption.text,
            )
        )
    return results


def _parts(results: Sequence[Bounds]) -> Iterator[tuple[str, list[Bounds]]]:
    """The tuning and held-out parts of ``results``, each with its name."""
    for name, held_out in SETS.items():
        yield name, [result for result in results if result.case.held_out == held_out]


def _mean(values: Iterable[float]) -> float:
    listed = list(values)
    return statistics.fmean(listed) if listed else 0.0


def report(results: Sequence[Bounds]) -> None:
    columns = ("caption", "best", "+things", "stages", "models")
    print(f"{'group':<32} {'part':<9} {'n':>4} " + " ".join(f"{name:>8}" for name in columns))
    keyed: dict[tuple[str, str], list[Bounds]] = {}
    for result in results:
        part = set_name(result.case)
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
    for part, chosen in _parts(results):
        words = Counter(plain(word) for result in chosen for word in result.unsupported)
        total = sum(words.values())
        print(f"\n{part}: {total} expected word groups no evidence supports; most often:")
        print("  " + ", ".join(f"{word} {count}" for word, count in words.most_common(40)))


def precision(results: Sequence[Bounds]) -> None:
    """How often a word a level adds is one a person expected: the share is a floor on how
    often it is right (the expected words do not list every true thing), but a low one says
    the level's extra words are mostly noise that a rule could not say without false words."""
    print("\nwords each level adds beyond the one before, and how many are expected words:")
    for part, chosen in _parts(results):
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


def thresholded(results: Sequence[Bounds]) -> None:
    """The hit rate of the caption with every word whose evidence passes thresholds fitted on
    the tuning photos to be at least half precise: what a rule could reach that accepted one
    unexpected word for each expected one, with how many it would bring."""
    fitted = fit_thresholds([r.beyond_caption for r in results if not r.case.held_out])
    print(f"\ncaption + every word whose evidence is at least {PRECISION:.0%} precise on tuning:")
    kept = sorted(
        f"{source}{':' + word if word else ''} >= {threshold:.2f}"
        for (source, word), threshold in fitted.items()
        if threshold is not None
    )
    print("  thresholds: " + ", ".join(kept))
    for part, chosen in _parts(results):
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
