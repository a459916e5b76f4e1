"""Peak memory of a real server while 8 worst-case images (each within the limits) arrive at once.

Each shape is sent as 8 different files (so no cache answers) in parallel to a fresh
``imagecaption serve`` process (memory the allocator kept from an earlier burst would blur the
next figure), and the process's peak RSS (VmHWM) is read after the burst. Linux only (it reads
/proc). Loopback only; about three minutes on 2 cores, most of it starting servers.

    python -m benchmarks.bench_hostile_memory [--copies 8] [--cases "PNG 1 x 40,000,000 grey"]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.e2e.hostile_images import WORST_CASES
from tests.e2e.memory import peak_rss_mb, post_in_parallel, reset_peak, rss_mb
from tests.e2e.server import run_server

CONFIG = """
log_level = "WARNING"
cache_size = 0
"""


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
    print("| image | file | statuses | wall s | idle RSS MB | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    highest = 0.0
    for name in args.cases:
        bodies = [WORST_CASES[name].build(copy) for copy in range(args.copies)]
        with tempfile.TemporaryDirectory() as tmp, run_server(Path(tmp), CONFIG) as server:
            key = server.create_key("pro")
            pid = server.process.pid
            idle = rss_mb(pid)
            reset_peak(pid)
            started = time.perf_counter()
            statuses = post_in_parallel(server.url, key, bodies)
            wall = time.perf_counter() - started
            peak = peak_rss_mb(pid)
        highest = max(highest, peak)
        counts = ", ".join(f"{n} x {s}" for s, n in sorted(Counter(statuses).items()))
        size_kb = len(bodies[0]) / 1024
        print(
            f"| {name} | {size_kb:.0f} KB | {counts} | {wall:.1f} | {idle:.0f} | {peak:.0f} |",
            flush=True,
        )
    print(f"highest peak: {highest:.0f} MB")


if __name__ == "__main__":
    main()
