"""Peak memory of a real server while 8 worst-case images (each within the limits) arrive at once.

Each shape is sent as 8 different files (so no cache answers) in parallel to a fresh
``imagecaption serve`` process (memory the allocator kept from an earlier burst would blur the
next figure), and the process's peak RSS (VmHWM) is read after the burst, with what it still
holds once the burst is over. Each case runs on two servers, one as it ships and one with
``return_image_memory_bytes = 0`` (the C library's allocator left to itself), so the setting's
effect shows side by side. Linux only (it reads /proc). Loopback only; about six minutes on
2 cores, most of it starting servers.

    python -m benchmarks.bench_hostile_memory [--copies 8] [--cases "PNG 1 x 40,000,000 grey"]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.hostile_images import WORST_CASES
from tests.e2e.memory import peak_rss_mb, post_in_parallel, reset_peak, rss_mb
from tests.e2e.server import run_server

CONFIG = """
log_level = "WARNING"
cache_size = 0
"""
ALLOCATORS = {"as shipped": "", "allocator default": "return_image_memory_bytes = 0\n"}


@dataclass(frozen=True)
class Burst:
    statuses: list[int]
    wall_s: float
    idle_mb: float
    peak_mb: float
    after_mb: float


def burst(bodies: list[bytes], config: str) -> Burst:
    with tempfile.TemporaryDirectory() as tmp, run_server(Path(tmp), config) as server:
        key = server.create_key("pro")
        pid = server.process.pid
        idle = rss_mb(pid)
        reset_peak(pid)
        started = time.perf_counter()
        statuses = post_in_parallel(server.url, key, bodies)
        wall = time.perf_counter() - started
        return Burst(statuses, wall, idle, peak_rss_mb(pid), rss_mb(pid))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument(
        "--cases",
        type=lambda text: text.split(";"),
        default=list(WORST_CASES),
        help="';'-separated",
    )
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, copies in parallel: {args.copies}")
    print("| image | file | allocator | statuses | wall s | idle RSS MB | peak RSS MB | after MB |")
    print("|---|---|---|---|---|---|---|---|")
    highest = 0.0
    for name in args.cases:
        bodies = [WORST_CASES[name].build(copy) for copy in range(args.copies)]
        size_kb = len(bodies[0]) / 1024
        for allocator, extra in ALLOCATORS.items():
            result = burst(bodies, CONFIG + extra)
            if allocator == "as shipped":
                highest = max(highest, result.peak_mb)
            counts = ", ".join(f"{n} x {s}" for s, n in sorted(Counter(result.statuses).items()))
            print(
                f"| {name} | {size_kb:.0f} KB | {allocator} | {counts} | {result.wall_s:.1f} "
                f"| {result.idle_mb:.0f} | {result.peak_mb:.0f} | {result.after_mb:.0f} |",
                flush=True,
            )
    print(f"highest peak as shipped: {highest:.0f} MB")


if __name__ == "__main__":
    main()
