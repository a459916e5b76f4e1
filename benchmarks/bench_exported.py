"""An exported folder served without the models extra, against the models install's onnx backend.

One run, one architecture at full size with random weights (``--architecture git|vit-gpt2|...``,
see ``benchmarks/architectures.py``), exactly 20 new tokens. Two real servers over HTTP, both
onnx int8 (or float32 with ``--no-quantize``) with dynamic batching:

- the models install serving the model folder (``--model <folder> --backend onnx``), which
  exports the graphs on its first start and reuses them after;
- the base install serving ``imagecaption models export``'s folder, run through
  ``tests.models.hf.without_models_extra`` (torch, transformers, safetensors and onnx cannot be
  imported, as where they are not installed).

Printed: the export's time and size, each server's time from launch to ready (the models install
twice: first start with its export, then a restart that reuses it) and its resident memory once
ready, then p50 / p99 at concurrency 1 and throughput at concurrency 8, interleaved in rounds
(every call its own JPEG), with the exported server's ratios to the models install's.

    python -m benchmarks.bench_exported [--architecture git] [--calls 16] [--rounds 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from tests.e2e.server import RunningServer, run_server

from benchmarks.architectures import ARCHITECTURES, build
from benchmarks.bench_models import (
    Measurement,
    line,
    load_photos,
    machine,
    over_http,
    server_config,
)
from benchmarks.throughput import calls_per_run
from imagecaption.models.hf.export import export_model
from imagecaption.settings import load_settings

WITHOUT_EXTRA = "tests.models.hf.without_models_extra"


def resident_mib(server: RunningServer) -> float:
    with open(f"/proc/{server.process.pid}/status") as status:
        for row in status:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    return 0.0


def started(
    stack: ExitStack, what: str, data: Path, config: str, launcher: str = "imagecaption"
) -> RunningServer:
    began = time.perf_counter()
    server = stack.enter_context(run_server(data, config, 900, launcher=launcher))
    print(
        f"{what}: ready in {time.perf_counter() - began:.1f} s, "
        f"resident {resident_mib(server):.0f} MiB"
    )
    return server


def folder_mib(folder: Path) -> float:
    return sum(file.stat().st_size for file in folder.rglob("*") if file.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--architecture", choices=sorted(ARCHITECTURES), default="git")
    parser.add_argument("--calls", type=int, default=16, help="calls per line, concurrency 1")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds")
    parser.add_argument("--no-quantize", action="store_true", help="float32 graphs")
    args = parser.parse_args()
    quantize = not args.no_quantize
    per_round = max(1, args.calls // args.rounds)
    share = calls_per_run(per_round, 8) * args.rounds
    photos = load_photos(share * 4 + 1)
    print(f"machine: {machine()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(f"model: {ARCHITECTURES[args.architecture].label}, random weights, 20 new tokens")
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        work = Path(scratch)
        folder = build(args.architecture, work / f"{args.architecture}-random")
        began = time.perf_counter()
        exported = export_model(
            str(folder), work / "exported", quantize, load_settings(None, data_dir=work / "x")
        )
        print(
            f"models export: {time.perf_counter() - began:.1f} s, folder "
            f"{folder_mib(exported):.0f} MiB (model folder {folder_mib(folder):.0f} MiB)"
        )
        source_config = server_config(folder, "onnx", 8, quantize)
        with ExitStack() as first:
            started(first, "models install, first start", work / "models", source_config)
        servers = {
            "models install, onnx, model folder": started(
                stack, "models install, restart", work / "models", source_config
            ),
            "base install, exported folder": started(
                stack,
                "base install, exported folder",
                work / "base",
                server_config(exported, "onnx", 8, quantize),
                WITHOUT_EXTRA,
            ),
        }
        offsets = iter(range(0, len(photos), share))
        lines: list[tuple[str, Measurement]] = []
        for label, server in servers.items():
            call = over_http(server.url, server.create_key("pro"), photos)
            call(len(photos) - 1)  # warm up
            for concurrency in (1, 8):
                start = next(offsets)
                work_on: Callable[[int], object] = lambda i, s=start, c=call: c(s + i)  # noqa: E731
                lines.append((f"{label}, c{concurrency}", Measurement(work_on, concurrency)))
        for _ in range(args.rounds):
            for _, measurement in lines:
                measurement.run(calls_per_run(per_round, measurement.concurrency))
    print()
    for label, measurement in lines:
        print(line(label, measurement))
    (_, source_c1), (_, source_c8), (_, base_c1), (_, base_c8) = lines
    p50 = statistics.median(base_c1.latencies) / statistics.median(source_c1.latencies)
    print(
        f"\nexported / models install: p50 c1 {p50:.2f}x, "
        f"throughput c8 {base_c8.throughput / source_c8.throughput:.2f}x"
    )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
