"""The offline captioner's captions in every language it ships, on the quality corpus.

Captions each picture of ``benchmarks/quality/cases*.toml`` once (the detectors and the
classifier run once per picture) and writes its findings in English and in every other
language, printing one row per tuning picture; held-out pictures are counted, never shown,
so that they stay unseen while the wording is tuned. ``--cases`` picks pictures by id (the
README's table), ``--markdown`` writes the rows as a table, ``--check`` lists the keys a
language's word table lacks instead (see docs/languages.md).

    python -m benchmarks.bench_languages [--cases ID ...] [--markdown FILE] [--check TAG]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks.quality.archives import SourceUnavailable
from benchmarks.quality.photos import load_cases, load_image
from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.models.offline.compose.languages.coverage import missing
from imagecaption.models.offline.compose.languages.words import load_words


def caption_corpus(ids: list[str]) -> tuple[tuple[str, ...], list[tuple[str, list[str]]], int]:
    """The languages, each tuning picture's id with its caption in every language, and how many
    held-out pictures were captioned (not shown)."""
    captioner = OfflineCaptioner(threads=1)
    captioner.load()
    languages = captioner.info.languages
    rows: list[tuple[str, list[str]]] = []
    held_out = 0
    timings: dict[str, list[float]] = {lang: [] for lang in languages}
    for case in load_cases():
        if ids and case.id not in ids:
            continue
        try:
            prepared = [captioner.preprocess(load_image(case))]
        except SourceUnavailable as error:
            print(f"skipped {case.id}: {error}", file=sys.stderr)
            continue
        texts = []
        for lang in languages:
            started = time.perf_counter()
            caption = captioner.caption_prepared(prepared, CaptionOptions(lang=lang))[0]
            timings[lang].append((time.perf_counter() - started) * 1000)
            texts.append(caption.text)
        if case.held_out:
            held_out += 1
        else:
            rows.append((case.id, texts))
    medians = {lang: sorted(times)[len(times) // 2] for lang, times in timings.items() if times}
    print(
        "median ms per picture, whole pipeline (the same picture in each language): "
        + ", ".join(f"{lang} {ms:.1f}" for lang, ms in medians.items()),
        file=sys.stderr,
    )
    return languages, rows, held_out


def markdown(languages: tuple[str, ...], rows: list[tuple[str, list[str]]]) -> str:
    lines = ["| picture | " + " | ".join(languages) + " |"]
    lines.append("|---" * (len(languages) + 1) + "|")
    lines += [f"| {case} | " + " | ".join(texts) + " |" for case, texts in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=[], help="only these case ids")
    parser.add_argument("--markdown", type=Path, help="write the rows as a Markdown table")
    parser.add_argument("--check", metavar="TAG", help="list the keys TAG's word table lacks")
    args = parser.parse_args()
    if args.check:
        absent = missing(load_words(args.check))
        print("\n".join(absent) or f"{args.check}: every key is there")
        sys.exit(1 if absent else 0)
    languages, rows, held_out = caption_corpus(args.cases)
    for case, texts in rows:
        print(case)
        for lang, text in zip(languages, texts, strict=True):
            print(f"  {lang}  {text}")
    print(f"{len(rows)} tuning pictures shown, {held_out} held-out pictures captioned, not shown")
    if args.markdown:
        args.markdown.write_text(markdown(languages, rows), encoding="utf-8")


if __name__ == "__main__":
    main()
