"""End-to-end latency and throughput over HTTP, at concurrency 1 and 8, on real photographs.

Starts a real server (cache off, so every call reaches the model), sends a bounded number of
calls to loopback only, and prints medians and percentiles beside the hosted service's published
figures, plus the model's own time measured in the same run, so the HTTP overhead shows as a ratio.

    python -m benchmarks.bench_http [--calls 200]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image
from tests.conftest import photo
from tests.e2e.server import run_server

from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.observability.latency import percentile

HOSTED_P50_MS = 1681
HOSTED_P99_MS = 2955
PHOTOS = ["chelsea", "coffee", "astronaut", "rocket", "grace_hopper", "cat", "motorcycle_left"]
CONFIG = "cache_size = 0\n[plans.pro]\nmonthly_credits = 100000000\n"


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def load_photos() -> list[bytes]:
    found = []
    for name in PHOTOS:
        try:
            found.append(jpeg(photo(name)))
        except (AttributeError, OSError, ValueError):
            continue  # a sample missing from this scikit-image version
    return found


def run_load(
    url: str, key: str, images: list[bytes], calls: int, concurrency: int
) -> tuple[list[float], float]:
    def one(index: int) -> float:
        started = time.perf_counter()
        response = client.post(
            "/v1/imagecaption",
            headers={"X-API-Key": key},
            files={"image": ("p.jpg", images[index % len(images)])},
        )
        assert response.status_code == 200, response.text
        return (time.perf_counter() - started) * 1000

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=url, timeout=60, limits=limits) as client:
        for index in range(len(images)):  # warm connections and code paths
            one(index)
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            latencies = list(pool.map(one, range(calls)))
        elapsed = time.perf_counter() - started
    return latencies, calls / elapsed


def model_only(images: list[bytes], rounds: int) -> list[float]:
    captioner = OfflineCaptioner(cache_dir=Path(tempfile.mkdtemp()))
    captioner.load()
    decoded = [Image.open(io.BytesIO(data)).convert("RGB") for data in images]
    times = []
    for index in range(rounds):
        started = time.perf_counter()
        captioner.caption_batch([decoded[index % len(decoded)]], CaptionOptions())
        times.append((time.perf_counter() - started) * 1000)
    return times


def describe(label: str, latencies: list[float], throughput: float | None = None) -> str:
    ordered = sorted(latencies)
    p50, p90, p99 = (percentile(ordered, q) for q in (0.5, 0.9, 0.99))
    line = f"{label:<34} p50 {p50:7.1f} ms  p90 {p90:7.1f} ms  p99 {p99:7.1f} ms"
    return line + (f"  {throughput:6.1f} img/s" if throughput else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200, help="calls per concurrency level")
    args = parser.parse_args()
    images = load_photos()
    print(f"{len(images)} photographs, {args.calls} calls per level, cache off")
    model = model_only(images, args.calls)
    with tempfile.TemporaryDirectory() as data_dir, run_server(Path(data_dir), CONFIG) as server:
        key = server.create_key("pro")
        c1, t1 = run_load(server.url, key, images, args.calls, 1)
        c8, t8 = run_load(server.url, key, images, args.calls, 8)
    p50_c1 = statistics.median(c1)
    p99_c1 = percentile(sorted(c1), 0.99)
    hosted = "hosted service (published)"
    print(describe("model only (in process, batch 1)", model))
    print(describe("HTTP, concurrency 1", c1, t1))
    print(describe("HTTP, concurrency 8", c8, t8))
    print(f"{hosted:<34} p50 {HOSTED_P50_MS:7.1f} ms  p99 {HOSTED_P99_MS:7.1f} ms")
    print(f"hosted p50 / our p50 at concurrency 1: {HOSTED_P50_MS / p50_c1:.1f}x")
    print(f"hosted p99 / our p99 at concurrency 1: {HOSTED_P99_MS / p99_c1:.1f}x")
    print(f"throughput concurrency 8 / concurrency 1: {t8 / t1:.2f}x")
    print(f"HTTP p50 / model p50 at concurrency 1: {p50_c1 / statistics.median(model):.2f}x")


if __name__ == "__main__":
    main()
