"""The offline captioner's captions in every language it ships, and what writing them costs.

Captions the quality benchmark's tuning pictures once (the models run once per picture) to
collect their findings, then writes each picture's findings in every language: one row per
picture with the caption in each language (held-out pictures are not captioned, so that they
stay unseen while the wording is tuned), then the writer's time per language, timed
alternately on the same findings, with medians and ratios to English. ``--cases`` picks
pictures by id (the README's table), ``--markdown`` writes the rows as a table, ``--check``
lists the keys a language's word table lacks instead (see docs/languages.md).

    python -m benchmarks.bench_languages [--cases ID ...] [--repeats 20] [--markdown FILE]
    python -m benchmarks.bench_languages --check TAG
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from benchmarks.bench_sentence import collect
from benchmarks.quality.photos import load_cases
from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline.compose.languages import languages
from imagecaption.models.offline.compose.languages.coverage import missing
from imagecaption.models.offline.compose.languages.words import load_words


def markdown(tags: tuple[str, ...], rows: list[tuple[str, list[str]]]) -> str:
    lines = ["| picture | " + " | ".join(tags) + " |", "|---" * (len(tags) + 1) + "|"]
    lines += [f"| {case} | " + " | ".join(texts) + " |" for case, texts in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=[], help="only these tuning case ids")
    parser.add_argument("--repeats", type=int, default=20, help="timings per picture and language")
    parser.add_argument("--markdown", type=Path, help="write the rows as a Markdown table")
    parser.add_argument("--check", metavar="TAG", help="list the keys TAG's word table lacks")
    args = parser.parse_args()
    if args.check:
        absent = missing(load_words(args.check))
        print("\n".join(absent) or f"{args.check}: every key is there")
        sys.exit(1 if absent else 0)
    writer, found, _ = collect(threads=1, ids=args.cases)
    ids = [case.id for case in load_cases() if not case.held_out]
    ids = [case for case in ids if not args.cases or case in args.cases]
    tags = languages()
    rows = []
    for case, findings in zip(ids, found, strict=True):
        texts = [writer.write(findings, CaptionOptions(lang=tag)).text for tag in tags]
        rows.append((case, texts))
        print(case)
        for tag, text in zip(tags, texts, strict=True):
            print(f"  {tag}  {text}")
    times: dict[str, list[float]] = {tag: [] for tag in tags}
    for _ in range(args.repeats):
        for findings in found:
            for tag in tags:
                options = CaptionOptions(num_captions=3, lang=tag)
                started = time.perf_counter()
                writer.write(findings, options)
                times[tag].append((time.perf_counter() - started) * 1000)
    english = statistics.median(times["en"])
    print(f"\n{len(found)} tuning pictures, {args.repeats} timings each, num_captions=3")
    for tag in tags:
        median = statistics.median(times[tag])
        print(f"writer in {tag}: median {median:.3f} ms  (ratio to en {median / english:.2f})")
    if args.markdown:
        args.markdown.write_text(markdown(tags, rows), encoding="utf-8")


if __name__ == "__main__":
    main()
