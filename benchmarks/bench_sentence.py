"""What the sentence rules cost per picture: the writer on real findings, with and without the
evidence stages' records, side by side in one run.

Captions the quality benchmark's tuning pictures once to collect their findings (detections,
classes, poses, surroundings, colours), then times ``SentenceWriter.write`` on each, alternating
between the findings as found and the same findings without poses, surroundings and colours (the
rules as they read pictures before those stages), and prints the medians and their ratio. The
models' own time is printed beside them, so the writer's share of a caption shows.

    python -m benchmarks.bench_sentence [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Collection
from dataclasses import replace

from benchmarks.quality.photos import load_cases, load_image
from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.models.offline.compose.sentence import Findings, SentenceWriter


def collect(
    threads: int, ids: Collection[str] = ()
) -> tuple[SentenceWriter, list[Findings], list[float]]:
    """The writer, every tuning picture's findings (only those of ``ids``, where given), and
    each whole caption's time in ms."""
    found: list[Findings] = []
    writers: list[SentenceWriter] = []
    original = SentenceWriter.write

    def keeping(self: SentenceWriter, findings: Findings, options: CaptionOptions) -> object:
        found.append(findings)
        writers.append(self)
        return original(self, findings, options)

    captioner = OfflineCaptioner(threads=threads)
    captioner.load()
    totals = []
    SentenceWriter.write = keeping  # type: ignore[assignment,method-assign]
    try:
        for case in load_cases():
            if case.held_out or (ids and case.id not in ids):
                continue
            image = load_image(case)
            started = time.perf_counter()
            captioner.caption_batch([image], CaptionOptions())
            totals.append((time.perf_counter() - started) * 1000)
    finally:
        SentenceWriter.write = original  # type: ignore[method-assign]
    return writers[0], found, totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2, help="cores per model")
    parser.add_argument("--repeats", type=int, default=20, help="timings per picture and way")
    args = parser.parse_args()
    writer, found, totals = collect(args.threads)
    options = CaptionOptions(num_captions=3)
    times: dict[str, list[float]] = {"with evidence": [], "without evidence": []}
    for _ in range(args.repeats):
        for findings in found:
            bare = replace(findings, poses=(), surroundings=None, colours={})
            for name, chosen in (("with evidence", findings), ("without evidence", bare)):
                started = time.perf_counter()
                writer.write(chosen, options)
                times[name].append((time.perf_counter() - started) * 1000)
    with_evidence = statistics.median(times["with evidence"])
    without = statistics.median(times["without evidence"])
    print(f"{len(found)} tuning pictures, {args.repeats} timings each, num_captions=3")
    print(f"writer with evidence:    median {with_evidence:.3f} ms")
    print(
        f"writer without evidence: median {without:.3f} ms  (ratio {with_evidence / without:.2f})"
    )
    print(f"whole caption (models and writer), median {statistics.median(totals):.1f} ms")


if __name__ == "__main__":
    main()
