"""The offline captioner of two source trees side by side: this one and an earlier release.

A change to the captioner is judged against the code it replaces on the same machine at the same
moment. Each tree's captioner runs in its own worker process (one ``src`` folder first on its
path); the two caption the same tuning photos of the quality corpus in alternation, one picture
at a time, so both see the same load. Then each tree serves over HTTP (cache off, reading off)
and the two servers take turns, a bounded number of calls each to loopback, at concurrency 1.
Prints medians, p90s and the ratio, in process and over HTTP.

    git archive v0.9 src | tar x -C /somewhere/old   # any earlier tree's src folder
    python -m benchmarks.bench_versions --baseline /somewhere/old/src [--rounds 2] [--calls 60]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from tests.e2e.server import RunningServer, run_server

from benchmarks.bench_http import CONFIG, jpeg
from benchmarks.quality.photos import load_cases
from benchmarks.quality.photos import photo as corpus_photo
from imagecaption.observability.latency import percentile

HERE = Path(__file__).resolve().parent.parent
THREADS = 2


def worker() -> None:
    """Caption the case ids read from stdin, one a line, and answer each with its time in ms."""
    from imagecaption.models.base import CaptionOptions
    from imagecaption.models.offline import OfflineCaptioner

    captioner = OfflineCaptioner(THREADS)
    captioner.load()
    options = CaptionOptions(read_text=False)
    print("ready", flush=True)
    for line in sys.stdin:
        image = corpus_photo(line.strip())
        started = time.perf_counter()
        captioner.caption_batch([image], options)
        print(json.dumps((time.perf_counter() - started) * 1000), flush=True)


def _environment(src: Path) -> dict[str, str]:
    """This tree's benchmarks and tests, with ``src`` as the package imported."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(HERE)])}


@contextlib.contextmanager
def _worker(src: Path) -> Iterator[subprocess.Popen[str]]:
    command = [sys.executable, "-m", "benchmarks.bench_versions", "--worker"]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_environment(src)
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the worker on {src} did not start")
        yield process
    finally:
        if process.stdin is not None:
            process.stdin.close()
        process.wait(timeout=60)


def _caption(process: subprocess.Popen[str], case_id: str) -> float:
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(case_id + "\n")
    process.stdin.flush()
    return float(json.loads(process.stdout.readline()))


@contextlib.contextmanager
def _server(src: Path, data_dir: Path) -> Iterator[tuple[RunningServer, str]]:
    saved = dict(os.environ)
    os.environ.update(_environment(src))  # run_server starts the server with this environment
    try:
        with run_server(data_dir, CONFIG) as server:
            os.environ.clear()
            os.environ.update(saved)
            yield server, server.create_key("pro")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _call(client: httpx.Client, server: RunningServer, key: str, image: bytes) -> float:
    started = time.perf_counter()
    response = client.post(
        server.url + "/v1/imagecaption",
        headers={"X-API-Key": key},
        files={"image": ("p.jpg", image)},
    )
    assert response.status_code == 200, response.text
    return (time.perf_counter() - started) * 1000


def describe(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p50, p90 = percentile(ordered, 0.5), percentile(ordered, 0.9)
    return f"{label:<30} p50 {p50:7.1f} ms  p90 {p90:7.1f} ms  ({len(times)} pictures)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, help="the earlier tree's src folder")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the photos")
    parser.add_argument("--calls", type=int, default=60, help="HTTP calls per server")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    if args.baseline is None:
        parser.error("--baseline is required")
    trees = {"baseline": args.baseline.resolve(), "this tree": HERE / "src"}
    ids = [case.id for case in load_cases() if not case.held_out]
    times: dict[str, list[float]] = {name: [] for name in trees}
    with contextlib.ExitStack() as stack:
        workers = {name: stack.enter_context(_worker(src)) for name, src in trees.items()}
        for case_id in ids[:5]:  # warm up both
            for process in workers.values():
                _caption(process, case_id)
        for _ in range(args.rounds):
            for case_id in ids:
                for name, process in workers.items():
                    times[name].append(_caption(process, case_id))
    print(f"in process, batch of 1, {THREADS} threads, reading off, {len(ids)} tuning photos")
    for name, measured in times.items():
        print(describe(name, measured))
    ratio = statistics.median(times["this tree"]) / statistics.median(times["baseline"])
    print(f"this tree / baseline, median: {ratio:.2f}x")

    images = [jpeg(corpus_photo(case_id)) for case_id in ids[:: max(1, len(ids) // 20)]]
    http: dict[str, list[float]] = {name: [] for name in trees}
    with contextlib.ExitStack() as stack:
        servers = {
            name: stack.enter_context(
                _server(src, Path(stack.enter_context(tempfile.TemporaryDirectory())))
            )
            for name, src in trees.items()
        }
        client = stack.enter_context(httpx.Client(timeout=60))
        for server, key in servers.values():  # warm up both
            for image in images[:3]:
                _call(client, server, key, image)
        for index in range(args.calls):
            image = images[index % len(images)]
            for name, (server, key) in servers.items():
                http[name].append(_call(client, server, key, image))
    print(f"over HTTP, concurrency 1, cache and reading off, {len(images)} photos in turn")
    for name, measured in http.items():
        print(describe(name, measured))
    ratio = statistics.median(http["this tree"]) / statistics.median(http["baseline"])
    print(f"this tree / baseline, HTTP median: {ratio:.2f}x")


if __name__ == "__main__":
    main()
