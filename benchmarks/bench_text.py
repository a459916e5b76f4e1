"""What reading text in pictures costs: the offline captioner with reading on and off, side by
side, on photos without text and on pictures with text, in process and over HTTP; and, with
``--readers``, how fast and how well each reader reads (ours with the shipped Latin recogniser and
with RapidOCR's full one, RapidOCR's default pipeline, Tesseract 5), picture by picture.

    python -m benchmarks.bench_text --rounds 8
    python -m benchmarks.bench_text --readers --rounds 3

Readers: every picture of ``benchmarks/text/references.toml`` is read by each reader in turn,
round after round, so all see the same machine at the same moment; each picture's time is the
median of its rounds, and its character error rate (``benchmarks/text/cer.py``) is against the
transcription. Tesseract is skipped, saying so, where its command is not installed.

Every call alternates between ``read_text`` on and off on the same captioner (or server), so both
see the same machine at the same moment; the medians are compared. Photos without text are the
HTTP benchmark's (bench_http.py) less the one with a logo on a mug; pictures with text are the
quality corpus's signs, pages and screenshots, and words drawn with Pillow.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from tests.conftest import photo
from tests.e2e.server import run_server
from tests.text_images import lettering, page, sign_on

from benchmarks.bench_http import PHOTOS, SCENES
from benchmarks.quality.photos import photo as corpus_photo
from benchmarks.text import peers
from benchmarks.text.cer import cer, in_reading_order
from benchmarks.text.pictures import load_pictures
from imagecaption.models.base import CaptionOptions, TextLine
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.models.offline.compose.text import lines_to_read, read_into
from imagecaption.models.offline.text import LineChoice, TextReader
from imagecaption.observability.latency import percentile

# bench_http's photographs, less the mug with a logo on it.
WITHOUT_TEXT = [*PHOTOS, *(case for case in SCENES if case != "kivy_cat_mug")]
WITH_TEXT = ["page", "fb_bottle_cap", "augly_web_page", "augly_phone_app", "pygame_source_code"]


def without_text() -> list[Image.Image]:
    return [photo(name) if name in PHOTOS else corpus_photo(name) for name in WITHOUT_TEXT]


def with_text() -> list[Image.Image]:
    """The corpus's signs, pages and screenshots, and words drawn on plain ground and a photo."""
    drawn = [
        lettering("OPEN 24 HOURS", 48),
        lettering("Fresh Bread Daily", 40, angle=20),
        sign_on(photo("rocket"), "Launch Pad 39A", share=0.7),
        page(["In the beginning God created the heaven", "and the earth. And the earth was"] * 4),
    ]
    return [corpus_photo(case) for case in WITH_TEXT] + drawn


ON, OFF = CaptionOptions(), CaptionOptions(read_text=False)
CONFIG = "cache_size = 0\n[plans.pro]\nmonthly_credits = 100000000\n"


def in_process(pictures: list[Image.Image], rounds: int) -> tuple[list[float], list[float], int]:
    """Model time with reading on and off, alternating per call; and how many pictures were
    read at all (had lines)."""
    captioner = OfflineCaptioner()
    captioner.load()
    on: list[float] = []
    off: list[float] = []
    read = 0
    for _ in range(rounds):
        for picture in pictures:
            for options, times in ((ON, on), (OFF, off)):
                started = time.perf_counter()
                result = captioner.caption_batch([picture], options)[0]
                times.append((time.perf_counter() - started) * 1000)
                read += options is ON and bool(result.text_lines)
    return on, off, read // rounds


def over_http(pictures: list[Image.Image], rounds: int) -> tuple[list[float], list[float]]:
    """End-to-end time at concurrency 1 with read_text=true and false, alternating per call."""
    bodies = [_png(picture) for picture in pictures]
    on: list[float] = []
    off: list[float] = []
    with tempfile.TemporaryDirectory() as folder, run_server(Path(folder), CONFIG) as server:
        key = server.create_key("pro")
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for _ in range(rounds):
                for body in bodies:
                    for flag, times in (("true", on), ("false", off)):
                        started = time.perf_counter()
                        response = client.post(
                            "/v1/imagecaption",
                            headers={"X-API-Key": key},
                            params={"read_text": flag},
                            files={"image": ("p.png", body)},
                        )
                        response.raise_for_status()
                        times.append((time.perf_counter() - started) * 1000)
    return on, off


def _png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def line(label: str, on: list[float], off: list[float]) -> str:
    def figures(times: list[float]) -> str:
        ordered = sorted(times)
        return f"p50 {percentile(ordered, 0.5):7.1f} p90 {percentile(ordered, 0.9):7.1f}"

    ratio = statistics.median(on) / statistics.median(off)
    return f"{label:<36} reading on {figures(on)} | off {figures(off)} | p50 on/off {ratio:.2f}x"


# Wordings of each kind ``read_into`` treats differently: a hedge (a page, a sign or the bare
# words), a thing that reads, a screen, a screenshot, a thing named that does not read.
WORDINGS = (
    "an image",
    "a street sign",
    "a computer monitor",
    "a screenshot of a website",
    "an image that may show a screenshot of a website",
    "a tabby cat",
)
EVERY_LINE, QUOTED = "ours, every line", "ours, quoted lines"
# The same with RapidOCR's full recogniser (Chinese and Latin), which the Latin one replaced.
FULL_EVERY_LINE, FULL_QUOTED = "full rec, every line", "full rec, quoted"


def compare_readers(rounds: int, threads: int) -> None:
    """Time and character error rate per picture for each reader, interleaved, then medians.

    Ours reads every line with details, and without them only the lines a caption can quote:
    those are compared by the captions they give (``same`` where every wording of WORDINGS
    quotes the same words as from every line), not by a character error against every line."""
    readers: dict[str, peers.Reader] = {
        FULL_EVERY_LINE: peers.ours(threads, full_recogniser=True),
        FULL_QUOTED: peers.ours(threads, choose=lines_to_read, full_recogniser=True),
        EVERY_LINE: peers.ours(threads),
        QUOTED: peers.ours(threads, choose=lines_to_read),
        "rapidocr default": peers.rapidocr_default(threads),
    }
    version = peers.tesseract_version()
    if version is None:
        print(
            "Tesseract skipped: the tesseract command is not installed (apt install tesseract-ocr)"
        )
    else:
        readers[version] = peers.tesseract(threads)
    pictures = load_pictures()
    times = {name: {p.id: [] for p in pictures} for name in readers}  # type: ignore[var-annotated]
    errors: dict[str, dict[str, float]] = {name: {} for name in readers}
    read: dict[str, dict[str, list[peers.Line]]] = {name: {} for name in readers}
    for _ in range(rounds):
        for picture in pictures:
            for name, reader in readers.items():
                started = time.perf_counter()
                lines = reader(picture.image)
                times[name][picture.id].append((time.perf_counter() - started) * 1000)
                errors[name][picture.id] = cer(picture.truth, in_reading_order(lines))
                read[name][picture.id] = lines
    same = {
        quoted: {p.id: same_captions(read[quoted][p.id], read[every][p.id]) for p in pictures}
        for quoted, every in ((QUOTED, EVERY_LINE), (FULL_QUOTED, FULL_EVERY_LINE))
    }
    names = list(readers)
    print(f"{'picture':<24}" + "".join(f" | {name[:18]:>18} ms   CER" for name in names))
    for picture in pictures:
        cells = [
            f" | {statistics.median(times[name][picture.id]):21.0f} "
            + (
                (" same" if same[name][picture.id] else " DIFF")
                if name in same
                else f"{errors[name][picture.id]:5.3f}"
            )
            for name in names
        ]
        print(f"{picture.id:<24}" + "".join(cells))
    base = [statistics.median(times[FULL_QUOTED][p.id]) for p in pictures]
    for name in names:
        medians = [statistics.median(times[name][p.id]) for p in pictures]
        ratios = [after / before for after, before in zip(medians, base, strict=True)]
        quality = (
            f"captions as from every line {sum(same[name].values())}/{len(pictures)}"
            if name in same
            else f"mean CER {statistics.mean(errors[name].values()):.3f}"
        )
        print(
            f"{name:<28} p50 {statistics.median(medians):7.0f} ms  slowest {max(medians):7.0f} ms"
            f"  {quality}  median time ratio to {FULL_QUOTED} {statistics.median(ratios):.2f}x"
        )
    for latin, full in ((EVERY_LINE, FULL_EVERY_LINE), (QUOTED, FULL_QUOTED)):
        alike = sum(read[latin][p.id] == read[full][p.id] for p in pictures)
        print(f"{latin} read the same lines as {full} on {alike} of {len(pictures)} pictures")


def same_captions(quoted: list[peers.Line], every: list[peers.Line]) -> bool:
    """Whether every wording of WORDINGS quotes the same words from both readings."""

    def lines(found: list[peers.Line]) -> list[TextLine]:
        return [TextLine(text, 1.0, box) for text, box in found]

    return all(
        read_into(wording, lines(quoted)) == read_into(wording, lines(every))
        for wording in WORDINGS
    )


def time_steps(rounds: int, threads: int) -> None:
    """Where our reader's time goes, step by step (the check, the detector, the recogniser with
    the angle classifier where it runs), reading every line and only the quoted ones, with the
    shipped Latin recogniser and with RapidOCR's full one, one after the other on each picture;
    medians over the rounds, ms."""
    spent: dict[str, float] = {}

    def timed(step: str, work: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return work(*args)
            finally:
                spent[step] = spent.get(step, 0.0) + (time.perf_counter() - started) * 1000

        return run

    def instrumented(full_recogniser: bool) -> TextReader:
        reader = TextReader(threads, full_recogniser=full_recogniser)
        reader.warmup()
        reader.check = timed("check", reader.check)  # type: ignore[method-assign]
        reader._detect = timed("detector", reader._detect)  # type: ignore[method-assign]
        reader._detect_bands = timed("detector", reader._detect_bands)  # type: ignore[method-assign]
        reader._recognise = timed("recogniser", reader._recognise)  # type: ignore[method-assign]
        return reader

    full, latin = instrumented(full_recogniser=True), instrumented(full_recogniser=False)
    steps = ("check", "detector", "recogniser")
    ways: dict[str, tuple[TextReader, LineChoice | None]] = {
        "full, every": (full, None),
        "latin, every": (latin, None),
        "full, quoted": (full, lines_to_read),
        "latin, quoted": (latin, lines_to_read),
    }
    pictures = load_pictures()
    table: dict[tuple[str, str], dict[str, list[float]]] = {}
    for _ in range(rounds):
        for picture in pictures:
            for way, (reader, choose) in ways.items():
                spent.clear()
                started = time.perf_counter()
                found = reader.look(picture.image, choose)
                spent["total"] = (time.perf_counter() - started) * 1000
                spent["lines"] = len(found)
                cells = table.setdefault((picture.id, way), {})
                for step in (*steps, "total", "lines"):
                    cells.setdefault(step, []).append(spent.get(step, 0.0))
    print(f"{'picture':<24} {'reading':<13}" + "".join(f"{s:>11}" for s in (*steps, "total")))
    for (picture_id, way), cells in table.items():
        figures = "".join(f"{statistics.median(cells[s]):11.0f}" for s in (*steps, "total"))
        print(
            f"{picture_id:<24} {way:<13}{figures}   ({statistics.median(cells['lines']):.0f} lines)"
        )
    for way in ways:
        totals = [statistics.median(table[p.id, way]["total"]) for p in pictures]
        recogniser = [statistics.median(table[p.id, way]["recogniser"]) for p in pictures]
        print(
            f"{way:<14} p50 {statistics.median(totals):7.0f} ms  slowest {max(totals):7.0f} ms"
            f"  recogniser, all pictures {sum(recogniser):7.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=8, help="passes over the pictures")
    parser.add_argument("--no-http", action="store_true", help="in process only")
    parser.add_argument("--readers", action="store_true", help="compare the readers instead")
    parser.add_argument("--steps", action="store_true", help="time our reader's steps instead")
    parser.add_argument("--threads", type=int, default=2, help="cores each reader may use")
    args = parser.parse_args()
    if args.readers:
        compare_readers(args.rounds, args.threads)
        return
    if args.steps:
        time_steps(args.rounds, args.threads)
        return
    plain, texts = without_text(), with_text()
    on, off, read = in_process(plain, args.rounds)
    print(line(f"model, {len(plain)} photos without text", on, off), f"({read} read)")
    on, off, read = in_process(texts, max(1, args.rounds // 2))
    print(line(f"model, {len(texts)} pictures with text", on, off), f"({read} read)")
    if not args.no_http:
        on, off = over_http(plain, args.rounds)
        print(line(f"HTTP c1, {len(plain)} photos without text", on, off))
        on, off = over_http(texts, max(1, args.rounds // 2))
        print(line(f"HTTP c1, {len(texts)} pictures with text", on, off))


if __name__ == "__main__":
    main()
