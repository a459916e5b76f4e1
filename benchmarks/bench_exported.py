"""An exported folder served without the models extra, against the models install's onnx backend.

One run, one or more architectures at full size with random weights (``--architecture git
vit-gpt2``, see ``benchmarks/architectures.py``), exactly 20 new tokens. Two real servers per
architecture over HTTP, both onnx int8 (or float32 with ``--no-quantize``) with dynamic batching:

- the models install serving the model folder (``--model <folder> --backend onnx``), which
  exports the graphs on its first start and reuses them after;
- the base install serving ``imagecaption models export``'s folder, run through
  ``tests.models.hf.without_models_extra`` (torch, transformers, safetensors and onnx cannot be
  imported, as where they are not installed).

Printed: the export's time and size, each server's time from launch to ready (the models install
twice: first start with its export, then a restart that reuses it) and its resident memory once
ready. Then every server is measured in rounds, all of them in each round (p50 at concurrency
1, throughput at concurrency 8, every call its own JPEG; the order of the two servers of an
architecture alternates from round to round). A shared machine's load changes from minute to
minute, so what is compared is each round's ratio (base install / models install), measured
seconds apart: the median of the rounds' ratios, their range, and beside it how much each
server's own figure moved from round to round (the noise the ratio has to be read against).
The same for the server's own CPU time per call, which the machine's load moves far less than
wall times.

    python -m benchmarks.bench_exported [--architecture git vit-gpt2] [--calls 8] [--rounds 8]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
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
MODELS, BASE = "models install, onnx, model folder", "base install, exported folder"


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
        f"resident {resident_mib(server):.0f} MiB",
        flush=True,
    )
    return server


def folder_mib(folder: Path) -> float:
    return sum(file.stat().st_size for file in folder.rglob("*") if file.is_file()) / 2**20


def cpu_seconds(server: RunningServer) -> float:
    """CPU time the server process has used, all its threads, user and system."""
    with open(f"/proc/{server.process.pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Rounds:
    """One server at one concurrency: all its calls, and each round's own figures."""

    measurement: Measurement
    server: RunningServer
    figures: list[float] = field(default_factory=list)
    """Per round: the p50 in ms at concurrency 1, the throughput in img/s above."""
    cpu: list[float] = field(default_factory=list)
    """Per round: the server's CPU time per call, ms. Other processes' load stretches wall
    times several-fold on a shared machine but a call's own CPU time far less."""

    def run(self, calls: int) -> None:
        measured = self.measurement
        answered, seconds = measured.answered, measured.seconds
        used = cpu_seconds(self.server)
        measured.run(calls)
        self.cpu.append((cpu_seconds(self.server) - used) * 1000 / calls)
        if measured.concurrency == 1:
            self.figures.append(statistics.median(measured.latencies[-calls:]))
        else:
            busy = measured.seconds - seconds
            self.figures.append((measured.answered - answered) / busy if busy else 0.0)


@dataclass
class Pair:
    """One architecture's two servers, each at concurrency 1 and 8."""

    label: str
    lines: dict[tuple[str, int], Rounds]

    def run_round(self, index: int, per_round: int) -> None:
        order = (MODELS, BASE) if index % 2 == 0 else (BASE, MODELS)
        for concurrency in (1, 8):
            for server in order:
                self.lines[server, concurrency].run(calls_per_run(per_round, concurrency))

    def report(self) -> None:
        print(f"\n{self.label}")
        for (server, concurrency), rounds in self.lines.items():
            print(line(f"  {server}, c{concurrency}", rounds.measurement))
        for concurrency, what in ((1, "p50 c1"), (8, "throughput c8")):
            models, base = self.lines[MODELS, concurrency], self.lines[BASE, concurrency]
            compare(what, models.figures, base.figures)
            compare(f"CPU ms per call c{concurrency}", models.cpu, base.cpu)
            print(
                f"    CPU ms per call, medians: models install {statistics.median(models.cpu):.0f}"
                f", base install {statistics.median(base.cpu):.0f}"
            )


def compare(what: str, models: list[float], base: list[float]) -> None:
    ratios = [b / m for b, m in zip(base, models, strict=True)]
    print(
        f"  {what}, base / models install, per round: "
        f"{' '.join(f'{r:.2f}' for r in ratios)}\n"
        f"    median {statistics.median(ratios):.2f}x, range "
        f"{min(ratios):.2f} to {max(ratios):.2f}; each server's own round-to-round "
        f"spread (max / min): models install {spread(models):.2f}x, "
        f"base install {spread(base):.2f}x"
    )


def spread(figures: list[float]) -> float:
    return max(figures) / min(figures) if min(figures) > 0 else float("inf")


def prepare(
    stack: ExitStack, name: str, work: Path, quantize: bool, photos: list[bytes], share: int
) -> Pair:
    """The architecture's folder, its export, both servers started and warmed up."""
    label = ARCHITECTURES[name].label
    print(f"\n{label}, random weights, 20 new tokens", flush=True)
    folder = build(name, work / f"{name}-random")
    began = time.perf_counter()
    exported = export_model(
        str(folder), work / f"{name}-exported", quantize, load_settings(None, data_dir=work / "x")
    )
    print(
        f"models export: {time.perf_counter() - began:.1f} s, folder "
        f"{folder_mib(exported):.0f} MiB (model folder {folder_mib(folder):.0f} MiB)",
        flush=True,
    )
    source_config = server_config(folder, "onnx", 8, quantize)
    with ExitStack() as first:
        started(first, "models install, first start", work / f"{name}-models", source_config)
    servers = {
        MODELS: started(stack, "models install, restart", work / f"{name}-models", source_config),
        BASE: started(
            stack,
            "base install, exported folder",
            work / f"{name}-base",
            server_config(exported, "onnx", 8, quantize),
            WITHOUT_EXTRA,
        ),
    }
    lines = {}
    starts = iter(range(0, len(photos), share))
    for server_label, server in servers.items():
        call = over_http(server.url, server.create_key("pro"), photos)
        call(len(photos) - 1)  # warm up
        for concurrency in (1, 8):
            start = next(starts)
            work_on: Callable[[int], object] = lambda i, s=start, c=call: c(s + i)  # noqa: E731
            lines[server_label, concurrency] = Rounds(Measurement(work_on, concurrency), server)
    return Pair(label, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--architecture", nargs="+", choices=sorted(ARCHITECTURES), default=["git", "vit-gpt2"]
    )
    parser.add_argument("--calls", type=int, default=8, help="calls per round at concurrency 1")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds")
    parser.add_argument("--no-quantize", action="store_true", help="float32 graphs")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per call
    quantize = not args.no_quantize
    share = calls_per_run(args.calls, 8) * args.rounds
    # Distinct photos for each line (a server at a concurrency); the last one warms up.
    photos = load_photos(share * 4 + 1)
    print(f"machine: {machine()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        pairs = [
            prepare(stack, name, Path(scratch), quantize, photos, share)
            for name in args.architecture
        ]
        print(f"\nload average before the rounds: {os.getloadavg()[0]:.2f}", flush=True)
        for index in range(args.rounds):
            for pair in pairs:
                pair.run_round(index, args.calls)
            print(f"round {index + 1}: load average {os.getloadavg()[0]:.2f}", flush=True)
    for pair in pairs:
        pair.report()
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
