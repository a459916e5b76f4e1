"""Throughput, latency, 503 share and peak memory of one and then two replicas as load rises.

Replicas share a throw-away PostgreSQL database and Redis. Every call carries a different image, so
neither the local nor the shared cache answers and every call reaches the model. The queue is kept
small so that the highest steps overflow it: the point is to see 503s grow while peak memory stays
flat. Bounded: at most ``--calls-per-step`` calls and ``--step-seconds`` per step, loopback only.

    python -m benchmarks.bench_replicas [--steps 1,4,16,64] [--calls-per-step 120]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.accounts.conftest import scratch_postgres_database
from tests.e2e.server import RunningServer
from tests.replicas.cluster import (
    REDIS_URL,
    distinct_image,
    fresh_seed,
    replica_config,
    replicas,
)

from imagecaption.observability.latency import percentile

QUEUE_SIZE = 8


@dataclass
class Step:
    replicas: int
    concurrency: int
    calls: int
    seconds: float
    ok_latencies_ms: list[float]
    overloaded: int
    other: int

    def row(self, peak_rss_mb: list[float]) -> str:
        ok = sorted(self.ok_latencies_ms)
        p50 = percentile(ok, 0.50) if ok else float("nan")
        p99 = percentile(ok, 0.99) if ok else float("nan")
        return (
            f"| {self.replicas} | {self.concurrency} | {self.calls} "
            f"| {len(self.ok_latencies_ms) / self.seconds:.1f} | {p50:.0f} | {p99:.0f} "
            f"| {100 * self.overloaded / self.calls:.0f}% | {self.other} "
            f"| {' / '.join(f'{mb:.0f}' for mb in peak_rss_mb)} |"
        )


def distinct_images(count: int) -> list[bytes]:
    """One image per call, never sent before (Redis keeps earlier runs'), so no cache answers."""
    start = fresh_seed()
    return [distinct_image(start + index) for index in range(count)]


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the most resident memory the process has used since it started."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run_step(
    urls: list[str], key: str, images: list[bytes], concurrency: int, deadline_s: float
) -> Step:
    latencies: list[float] = []
    counts = {"overloaded": 0, "other": 0, "sent": 0}
    queue = iter(range(len(images)))
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def user() -> None:
            for index in queue:
                if time.perf_counter() - started > deadline_s:
                    return
                counts["sent"] += 1
                began = time.perf_counter()
                response = await client.post(
                    urls[index % len(urls)] + "/v1/imagecaption",
                    headers={"X-API-Key": key},
                    files={"image": ("p.jpg", images[index])},
                )
                if response.status_code == 200:
                    latencies.append((time.perf_counter() - began) * 1000)
                elif response.status_code == 503:
                    counts["overloaded"] += 1
                else:
                    counts["other"] += 1

        await asyncio.gather(*(user() for _ in range(concurrency)))
    return Step(
        replicas=len(urls),
        concurrency=concurrency,
        calls=counts["sent"],
        seconds=time.perf_counter() - started,
        ok_latencies_ms=latencies,
        overloaded=counts["overloaded"],
        other=counts["other"],
    )


def bench(servers: list[RunningServer], args: argparse.Namespace) -> list[str]:
    key = servers[0].create_key("pro")
    urls = [server.url for server in servers]
    rows = []
    for concurrency in args.steps:
        images = distinct_images(args.calls_per_step)
        step = asyncio.run(run_step(urls, key, images, concurrency, args.step_seconds))
        row = step.row([peak_rss_mb(server.process.pid) for server in servers])
        print(row, flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--steps", type=lambda text: [int(n) for n in text.split(",")], default=[1, 4, 16, 64]
    )
    parser.add_argument("--calls-per-step", type=int, default=120)
    parser.add_argument("--step-seconds", type=float, default=30.0)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, queue_size: {QUEUE_SIZE}")
    print("| replicas | concurrency | calls | ok/s | p50 ms | p99 ms | 503 | other | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    with scratch_postgres_database() as database_url, tempfile.TemporaryDirectory() as tmp:
        config = replica_config(
            database_url, REDIS_URL, queue_size=QUEUE_SIZE, cache_size=0, log_level="WARNING"
        )
        for count in (1, 2):
            with replicas(Path(tmp) / f"x{count}", config, count) as servers:
                bench(servers, args)


if __name__ == "__main__":
    main()
