"""Every caption's score on one scale: how likely the sentence is right.

Each rule's raw score is the product of the probabilities of the evidence it used (the
detector's score for the subject, the classifier's for a name, the surroundings' for a place),
which ranks one rule's drafts well but means different things for different rules: a
classifier's 0.4 for a breed is right far less often than a detector's 0.4 for a person. So each
rule's raw scores are mapped by a straight line, fitted by least squares on the quality
benchmark's tuning pictures (``benchmarks/calibrate_scores.py``), to the share of the expected
words its captions got right there, with no plainly wrong word. A score of 0.6 means that
captions scored so mentioned about 60% of what a person describing the picture would.
``ranked_caption`` then orders the main caption and its alternatives on that scale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from imagecaption.models.base import Candidate, Caption, CaptionOptions
from imagecaption.models.offline.compose.drafts import Draft, Source

# (intercept, slope) per rule, from ``python -m benchmarks.calibrate_scores`` on the tuning set
# (162 pictures of the grown corpus). A slope of 0 is a rule whose raw scores did not predict
# its hit rate there (the detector is as sure of "a person" as of "a person riding a horse"):
# it gets its mean.
CALIBRATION: dict[Source, tuple[float, float]] = {
    "classifier": (0.431, 0.000),
    "group": (0.046, 0.481),
    "guess": (0.056, 0.404),
    "hedge": (0.190, 0.124),
    "kind": (-0.236, 1.006),
    "scene": (0.482, 0.000),
    "subject": (0.237, 0.000),
    "unclear": (0.098, 0.455),
}
# No caption is certain, and none is hopeless enough to show as zero.
FLOOR, CEILING = 0.01, 0.95


def calibrated(draft: Draft) -> float:
    """The chance that ``draft`` is right, from its rule's raw score."""
    intercept, slope = CALIBRATION[draft.source]
    return round(min(CEILING, max(FLOOR, intercept + slope * draft.score)), 4)


def ranked_caption(
    drafts: Sequence[Draft],
    options: CaptionOptions,
    render: Callable[[Draft, int | None], str | None] = Draft.render,
) -> Caption:
    """The first draft is the caption; the others, likeliest first, are its alternatives.

    Every score is the calibrated chance that the wording is right (``confidence.py``). The
    main caption was chosen by the rules for saying the most that the evidence allows, so no
    alternative is scored above it: a broader one that would be ("a wild animal" beside "a
    wombat") is shown at the main caption's score. ``render`` writes a draft in the caption's
    language within the word limit, or None where it cannot (English then, if no draft can).
    """
    texts: dict[str, float] = {}
    for draft in drafts:
        text = render(draft, options.max_length)
        if text is not None:  # a draft another language cannot write is left out
            texts.setdefault(text, calibrated(draft))
    if not texts:
        return ranked_caption(drafts, options)
    primary, score = next(iter(texts.items()))
    if options.num_captions <= 1:
        return Caption(text=primary, score=score)
    others = sorted(
        ((text, min(value, score)) for text, value in list(texts.items())[1:]),
        key=lambda item: -item[1],
    )
    chosen = [(primary, score), *others][: options.num_captions]
    return Caption(
        text=primary,
        score=score,
        candidates=tuple(Candidate(text=text, score=value) for text, value in chosen),
    )
