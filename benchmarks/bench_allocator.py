"""What giving image memory back to the OS costs in latency, on uploads of everyday sizes.

``return_image_memory_bytes`` (default 4 MB) makes every allocation of that size or more a mapping
of its own, unmapped when freed: memory comes back after a burst of large images
(``bench_hostile_memory``), but each large buffer is fresh pages the kernel must zero. This
starts two real servers, as shipped and with the setting at 0 (glibc left to itself), and sends
them the same uploads in alternating rounds: photos as the test extra ships them (0.3-0.5 MP)
and the same scaled to a phone camera's 12 MP, at concurrency 1 and 8. Loopback only, a bounded
number of calls; about three minutes on 2 cores.

    python -m benchmarks.bench_allocator [--calls 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
from pathlib import Path

from PIL import Image
from tests.conftest import photo
from tests.e2e.server import run_server

from benchmarks.bench_http import CONFIG, jpeg, run_load

PHOTOS = ["chelsea", "coffee", "astronaut", "rocket", "grace_hopper"]
PHONE = (4032, 3024)  # 12 MP, what most phone cameras take
SERVERS = {"as shipped (4 MB)": "", "allocator default": "return_image_memory_bytes = 0\n"}


def uploads() -> dict[str, list[bytes]]:
    pictures = [photo(name) for name in PHOTOS]
    return {
        "photos 0.3-0.5 MP": [jpeg(picture) for picture in pictures],
        "phone 12 MP": [
            jpeg(picture.resize(PHONE, Image.Resampling.BILINEAR)) for picture in pictures
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=60, help="calls per load, per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternations between servers")
    args = parser.parse_args()
    sets = uploads()
    loads = [(name, concurrency) for name in sets for concurrency in (1, 8)]
    latencies: dict[tuple[str, str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        servers = {
            label: stack.enter_context(run_server(Path(tmp) / str(index), CONFIG + settings))
            for index, (label, settings) in enumerate(SERVERS.items())
        }
        keys = {label: server.create_key("pro") for label, server in servers.items()}
        for _ in range(args.rounds):
            for label, server in servers.items():
                for name, concurrency in loads:
                    load = run_load(server.url, keys[label], sets[name], args.calls, concurrency)
                    latencies.setdefault((label, name, concurrency), []).extend(load.latencies)
    print(f"cores: {os.cpu_count()}, {args.calls} calls x {args.rounds} rounds per cell, HTTP p50")
    print("| uploads | concurrency | as shipped (4 MB) | allocator default | ratio |")
    print("|---|---|---|---|---|")
    for name, concurrency in loads:
        shipped_p50 = statistics.median(latencies[("as shipped (4 MB)", name, concurrency)])
        default_p50 = statistics.median(latencies[("allocator default", name, concurrency)])
        print(
            f"| {name} | {concurrency} | {shipped_p50:.1f} ms | {default_p50:.1f} ms "
            f"| {shipped_p50 / default_p50:.2f} |"
        )


if __name__ == "__main__":
    main()
