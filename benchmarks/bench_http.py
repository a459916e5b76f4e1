"""End-to-end latency and throughput over HTTP, at concurrency 1 and 8, on real photographs.

Starts two real servers side by side (cache off, so every call reaches the model): the offline
captioner as it ships (object detector, faces, classifier) and the same without its object
detector (classifier and faces only), and measures them in alternating rounds so that both see
the same machine. Sends a bounded number of calls to loopback only, and prints medians and
percentiles beside the hosted service's published figures, plus the model's own time measured
in the same run, so the HTTP overhead shows as a ratio. Throughput at concurrency 8 counts the
answers given while all 8 clients were busy (``benchmarks/throughput.py``).

    python -m benchmarks.bench_http [--calls 200] [--rounds 4] [--other-source DIR]

With ``--other-source``, the second server is the shipped pipeline again, run from another
checkout's ``src`` folder (an earlier commit), so that a change is measured before and after in
one run; the model-only figures are this checkout's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image
from tests.conftest import photo
from tests.e2e.server import run_server

from benchmarks.bench_overhead import cpu_seconds
from benchmarks.quality.photos import photo as corpus_photo
from benchmarks.throughput import busy_window, calls_per_run
from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.observability.latency import percentile

HOSTED_P50_MS = 1681
HOSTED_P99_MS = 2955
PHOTOS = ["chelsea", "coffee", "astronaut", "rocket", "grace_hopper"]
# Scenes with several things in them, from the quality corpus: the detector's busier cases.
SCENES = ["fb_ibises", "skv_traffic_jam", "caer_drone_pilot", "kivy_cat_mug", "fb_dog_on_leash"]
# Reading text is measured on its own by bench_text; here both pipelines leave it off.
CONFIG = "cache_size = 0\nread_text = false\n[plans.pro]\nmonthly_credits = 100000000\n"


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def load_photos() -> list[bytes]:
    return [jpeg(photo(name)) for name in PHOTOS] + [jpeg(corpus_photo(name)) for name in SCENES]


@dataclass(frozen=True)
class Load:
    """A run's latencies, and the answers and seconds while every client was busy."""

    latencies: list[float]
    answered: int
    seconds: float
    cpu_ms_per_call: float
    batches: dict[str, float] = field(default_factory=dict)
    """The server's batch histograms' growth over the load (``batch_counts``)."""


BATCH_SERIES = ("imagecaption_batch_size", "imagecaption_batch_duration_seconds")


def batch_counts(client: httpx.Client) -> dict[str, float]:
    """The batch histograms' samples (counts per bucket, sums) from the server's /metrics: how
    the calls reached the model, which throughput at concurrency 8 depends on."""
    counts = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(BATCH_SERIES):
            name, _, value = line.rpartition(" ")
            counts[name] = float(value)
    return counts


def run_load(
    url: str, key: str, images: list[bytes], calls: int, concurrency: int, pid: int
) -> Load:
    """``calls`` calls from ``concurrency`` clients (throughput as ``busy_window`` counts it),
    and the server process's CPU time per call (steadier than wall time on a shared machine)."""

    def one(index: int) -> tuple[float, float]:
        called = time.perf_counter()
        response = client.post(
            "/v1/imagecaption",
            headers={"X-API-Key": key},
            files={"image": ("p.jpg", images[index % len(images)])},
        )
        assert response.status_code == 200, response.text
        finished = time.perf_counter()
        return (finished - called) * 1000, finished

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=url, timeout=60, limits=limits) as client:
        for index in range(len(images)):  # warm connections and code paths
            one(index)
        batches_before = batch_counts(client)
        started = time.perf_counter()
        cpu_before = cpu_seconds(pid)
        with ThreadPoolExecutor(concurrency) as pool:
            timings = list(pool.map(one, range(calls_per_run(calls, concurrency))))
        time.sleep(0.3)  # the charges that follow the last answers
        cpu_ms = (cpu_seconds(pid) - cpu_before) / len(timings) * 1000
        batches = {
            name: value - batches_before.get(name, 0.0)
            for name, value in batch_counts(client).items()
        }
    answered, seconds = busy_window([end - started for _, end in timings], concurrency)
    return Load([latency for latency, _ in timings], answered, seconds, cpu_ms, batches)


def model_only(images: list[bytes], rounds: int, objects: bool) -> list[float]:
    captioner = OfflineCaptioner(objects=objects)
    captioner.load()
    decoded = [Image.open(io.BytesIO(data)).convert("RGB") for data in images]
    times = []
    for index in range(rounds):
        started = time.perf_counter()
        captioner.caption_batch([decoded[index % len(decoded)]], CaptionOptions(read_text=False))
        times.append((time.perf_counter() - started) * 1000)
    return times


def describe(label: str, latencies: list[float], throughput: float | None = None) -> str:
    ordered = sorted(latencies)
    p50, p90, p99 = (percentile(ordered, q) for q in (0.5, 0.9, 0.99))
    line = f"{label:<34} p50 {p50:7.1f} ms  p90 {p90:7.1f} ms  p99 {p99:7.1f} ms"
    return line + (f"  {throughput:6.1f} img/s" if throughput else "")


@dataclass
class Pipeline:
    """One server's measurements, gathered over the rounds."""

    label: str
    objects: bool
    source: Path | None = None
    """Another checkout to run the server from, for a before-and-after comparison."""
    model: list[float] = field(default_factory=list)
    loads: dict[int, list[Load]] = field(default_factory=dict)
    """By concurrency."""

    def latencies(self, concurrency: int) -> list[float]:
        return [value for load in self.loads[concurrency] for value in load.latencies]

    def cpu_ms_per_call(self, concurrency: int) -> float:
        return statistics.median(load.cpu_ms_per_call for load in self.loads[concurrency])

    def batches(self, concurrency: int) -> str:
        """Batch sizes and model time per batch over this level's loads, summed."""
        total: dict[str, float] = {}
        for load in self.loads[concurrency]:
            for name, value in load.batches.items():
                total[name] = total.get(name, 0.0) + value
        size, duration = BATCH_SERIES
        count = total.get(f"{size}_count", 0.0)
        if not count:
            return "no batches reported"
        buckets = [
            (bound, total.get(f'{size}_bucket{{le="{bound}"}}', 0.0))
            for bound in ("1.0", "2.0", "4.0", "8.0")
        ]
        below, shares = 0.0, []
        for bound, cumulative in buckets:
            shares.append(f"<={bound[:-2]}: {(cumulative - below) / count:.0%}")
            below = cumulative
        model_ms = total.get(f"{duration}_sum", 0.0) / count * 1000
        return (
            f"{count:.0f} batches, mean size {total.get(f'{size}_sum', 0.0) / count:.2f} "
            f"({', '.join(shares)}), model {model_ms:.0f} ms per batch"
        )

    def throughput(self, concurrency: int) -> float:
        loads = self.loads[concurrency]
        return sum(load.answered for load in loads) / sum(load.seconds for load in loads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200, help="calls per concurrency level")
    parser.add_argument("--rounds", type=int, default=4, help="alternations between servers")
    parser.add_argument(
        "--other-source", type=Path, help="compare with the shipped pipeline of this checkout"
    )
    args = parser.parse_args()
    images = load_photos()
    per_round = max(1, args.calls // args.rounds)
    print(f"{len(images)} photographs, {per_round * args.rounds} calls per level, cache off")
    pipelines = [
        Pipeline("whole pipeline (shipped)", objects=True),
        Pipeline("classifier and faces only", objects=False)
        if args.other_source is None
        else Pipeline("whole pipeline, other code", objects=True, source=args.other_source),
    ]
    with contextlib.ExitStack() as stack:
        servers = []
        for pipeline in pipelines:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            # Top-level keys go before CONFIG's tables, or TOML files them under the last table.
            config = f"offline_objects = {str(pipeline.objects).lower()}\n" + CONFIG
            extra_env = (
                None
                if pipeline.source is None
                else {"PYTHONPATH": str(pipeline.source.resolve() / "src")}
            )
            server = stack.enter_context(run_server(data_dir, config, extra_env=extra_env))
            servers.append((server, server.create_key("pro")))
        for index in range(args.rounds):  # each server first in turn
            pairs = list(zip(pipelines, servers, strict=True))
            for pipeline, (server, key) in pairs if index % 2 == 0 else pairs[::-1]:
                if pipeline.source is None:
                    pipeline.model += model_only(images, per_round, pipeline.objects)
                for concurrency in (1, 8):
                    load = run_load(
                        server.url, key, images, per_round, concurrency, server.process.pid
                    )
                    pipeline.loads.setdefault(concurrency, []).append(load)
    for pipeline in pipelines:
        report(pipeline)
    whole, other = pipelines
    print(
        f"{whole.label} / {other.label}, HTTP p50 at concurrency 1: "
        f"{statistics.median(whole.latencies(1)) / statistics.median(other.latencies(1)):.2f}x, "
        f"throughput at concurrency 8: {whole.throughput(8) / other.throughput(8):.2f}x, "
        f"server CPU per call at 1: {whole.cpu_ms_per_call(1) / other.cpu_ms_per_call(1):.2f}x, "
        f"at 8: {whole.cpu_ms_per_call(8) / other.cpu_ms_per_call(8):.2f}x"
    )


def report(pipeline: Pipeline) -> None:
    c1, c8 = pipeline.latencies(1), pipeline.latencies(8)
    t1, t8 = pipeline.throughput(1), pipeline.throughput(8)
    p50_c1 = statistics.median(c1)
    p99_c1 = percentile(sorted(c1), 0.99)
    hosted = "hosted service (published)"
    print(f"-- {pipeline.label}")
    if pipeline.model:
        print(describe("model only (in process, batch 1)", pipeline.model))
    print(describe("HTTP, concurrency 1", c1, t1))
    print(describe("HTTP, concurrency 8", c8, t8))
    print(
        f"server CPU per call: {pipeline.cpu_ms_per_call(1):.1f} ms at concurrency 1, "
        f"{pipeline.cpu_ms_per_call(8):.1f} ms at 8 (median of the rounds)"
    )
    print(f"batches at concurrency 8: {pipeline.batches(8)}")
    print(f"{hosted:<34} p50 {HOSTED_P50_MS:7.1f} ms  p99 {HOSTED_P99_MS:7.1f} ms")
    print(f"hosted p50 / our p50 at concurrency 1: {HOSTED_P50_MS / p50_c1:.1f}x")
    print(f"hosted p99 / our p99 at concurrency 1: {HOSTED_P99_MS / p99_c1:.1f}x")
    print(f"throughput concurrency 8 / concurrency 1: {t8 / t1:.2f}x")
    if pipeline.model:
        model_p50 = statistics.median(pipeline.model)
        print(f"HTTP p50 / model p50 at concurrency 1: {p50_c1 / model_p50:.2f}x")


if __name__ == "__main__":
    main()
