"""Fit the offline captioner's score calibration on the quality benchmark's tuning set.

Captions every tuning picture (never a held-out one), keeps every draft the sentence rules
wrote for it (the main caption and all alternatives) with its raw score and the rule that wrote
it, scores each draft's wording against the picture's expected words like ``bench_quality``
(its hit rate, or 0 with a plainly wrong word), and fits, per rule, a straight line from raw
score to hit rate by least squares. Rules with too few drafts share one line fitted on all of
them (a rule with a handful gets its mean hit rate). Prints the table to paste into
``compose/confidence.py``, and how well the scores as shipped match the hit rates (mean
squared error, and the means side by side).

    python -m benchmarks.calibrate_scores
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from benchmarks.quality.photos import load_cases, load_image
from benchmarks.quality.scoring import score
from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.models.offline.compose.confidence import calibrated
from imagecaption.models.offline.compose.drafts import Draft
from imagecaption.models.offline.compose.sentence import SentenceWriter

# Below this many drafts, a rule's own line is not trusted: it gets its mean hit rate, flat,
# and below the second number not even that: it shares the line fitted on all rules.
MIN_DRAFTS = 12
MIN_FLAT = 5
# The classifier's guesses beyond those that ``num_captions`` (at most 10) can show are not
# counted: hundreds of unlikely guesses would drown the other rules in the pooled line.
SHOWN_GUESSES = 9
# The bands of score that the documentation describes, checked on the main captions.
BANDS = ((0.0, 0.3), (0.3, 0.5), (0.5, 1.01))


@contextmanager
def recorded_drafts() -> Iterator[list[list[Draft]]]:
    """Every call's drafts, while the block runs: the captioner's writer is the only caller."""
    calls: list[list[Draft]] = []
    original = SentenceWriter.drafts

    def recording(self: SentenceWriter, *args: object, **kwargs: object) -> list[Draft]:
        drafts = original(self, *args, **kwargs)  # type: ignore[arg-type]
        calls.append(drafts)
        return drafts

    SentenceWriter.drafts = recording  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        SentenceWriter.drafts = original  # type: ignore[method-assign]


def observations(threads: int) -> list[tuple[Draft, float, bool]]:
    """(draft, its hit rate, whether it is the main caption) for every distinct draft of every
    tuning picture."""
    captioner = OfflineCaptioner(threads=threads)
    captioner.load()
    found: list[tuple[Draft, float, bool]] = []
    with recorded_drafts() as calls:
        for case in load_cases():
            if case.held_out:
                continue
            calls.clear()
            captioner.caption_batch([load_image(case)], CaptionOptions())
            seen: set[str] = set()
            guesses = 0
            for draft in calls[-1]:
                text = draft.render(None)
                if text in seen or (draft.source == "guess" and guesses == SHOWN_GUESSES):
                    continue
                seen.add(text)
                guesses += draft.source == "guess"
                scored = score(text, case.expected, case.forbidden)
                hit = 0.0 if scored.forbidden_found else scored.hit_rate
                found.append((draft, hit, len(seen) == 1))
    return found


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares (intercept, slope), the slope kept at zero or above: a higher raw score
    never means a lower chance of being right."""
    raw = np.array([x for x, _ in points])
    hit = np.array([y for _, y in points])
    if len(points) < 2 or float(raw.std()) == 0.0:
        return float(hit.mean()), 0.0
    slope, intercept = np.polyfit(raw, hit, 1)
    if slope < 0:
        return float(hit.mean()), 0.0
    return float(intercept), float(slope)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2, help="cores per model")
    args = parser.parse_args()
    found = observations(args.threads)
    by_source: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for draft, hit, _ in found:
        by_source[draft.source].append((draft.score, hit))
    pooled = fit([(draft.score, hit) for draft, hit, _ in found if draft.source != "guess"])
    print(f"{'rule':<11} {'drafts':>6} {'mean raw':>8} {'mean hit':>8}  intercept  slope")
    table = {}
    for source, points in sorted(by_source.items()):
        line = fit(points) if len(points) >= MIN_DRAFTS else pooled
        if MIN_FLAT <= len(points) < MIN_DRAFTS:
            line = (statistics.fmean(y for _, y in points), 0.0)
        table[source] = line
        raw = statistics.fmean(x for x, _ in points)
        hit = statistics.fmean(y for _, y in points)
        print(f"{source:<11} {len(points):6d} {raw:8.3f} {hit:8.3f}  {line[0]:9.3f} {line[1]:6.3f}")
    others = len(found) - len(by_source["guess"])
    print(f"{'pooled':<11} {others:6d} {'':18}  {pooled[0]:9.3f} {pooled[1]:6.3f}")
    for name, chosen in (("all drafts", found), ("main captions", [f for f in found if f[2]])):
        raw_error = statistics.fmean((draft.score - hit) ** 2 for draft, hit, _ in chosen)
        now = statistics.fmean((calibrated(draft) - hit) ** 2 for draft, hit, _ in chosen)
        mean_hit = statistics.fmean(hit for _, hit, _ in chosen)
        mean_now = statistics.fmean(calibrated(draft) for draft, _, _ in chosen)
        print(
            f"{name}: mean squared error raw {raw_error:.3f}, calibrated as shipped {now:.3f}; "
            f"mean hit rate {mean_hit:.3f}, mean calibrated score {mean_now:.3f}"
        )
    mains = [(calibrated(draft), hit) for draft, hit, main in found if main]
    for low, high in BANDS:
        band = [hit for value, hit in mains if low <= value < high]
        mean = f"{statistics.fmean(band):.3f}" if band else "-"
        print(f"main captions scored {low:.1f} to {high:.1f}: {len(band):3d}, mean hit rate {mean}")
    print("CALIBRATION = {")
    for source, (intercept, slope) in table.items():
        print(f'    "{source}": ({intercept:.3f}, {slope:.3f}),')
    print("}")


if __name__ == "__main__":
    main()
