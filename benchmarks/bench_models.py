"""Full captioning models: a plain transformers script versus our backends, side by side.

One run, the same real photographs, one architecture at full size with random weights (which
costs what the trained model costs; ``--architecture git|blip|vit-gpt2|florence2``, see
``benchmarks/architectures.py``) forced to exactly 20 new tokens (``min_new_tokens =
max_new_tokens = 20`` in the saved generation config, which ``generate()``, our decoder and the
peers honour). Measured:

- plain: ``processor(...)`` + ``model.generate(...)`` of the architecture's own transformers class,
  called once per image, float32, the way a captioning script does it; sequentially
  (concurrency 1) and from 8 threads (concurrency 8);
- ours, over HTTP against real server processes serving the saved folder (``--model <folder>``):
  the torch backend (float32) and the onnx backend in int8 and in float32, at
  concurrency 1, and at concurrency 8 with dynamic batching (``max_batch_size = 8``) and
  without (``max_batch_size = 1``);
- the peers a user could pick instead (``benchmarks/peers``: Optimum ONNX Runtime and OpenVINO in
  float32 and int8, each configured as its documentation recommends; CTranslate2 and ONNX
  Runtime GenAI where their converters accept the architecture), each in its own worker process
  in the peers' environment, called like the plain script. A peer that does not support the
  architecture says why, in one line. Exports happen before round 1 and are reported apart.

Every call sends an image no other call sends (the photographs, each re-encoded with one pixel
changed), so neither the caption cache nor in-flight de-duplication can answer for the model.
Shared 2-core machines drift between fast and slow spells that last tens of seconds, so the
measurements are interleaved: every server runs for the whole benchmark, and each round gives
every measurement its share of the calls; the figures pool all rounds. At concurrency 8 a
round is at least 4 calls a client, and throughput counts the answers given while all 8 were
busy (``benchmarks/throughput.py``).

    python -m benchmarks.bench_models [--architecture git] [--calls 16] [--rounds 4]
        [--runtimes torch,onnx,onnx-fp32] [--peers optimum-ort,openvino-int8,... | --no-peers]

Besides the lines per measurement, it prints a markdown table for docs/models.md.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Protocol

import httpx
import torch
import transformers as tf
from PIL import Image
from tests.conftest import photo
from tests.e2e.server import run_server

from benchmarks.architectures import ARCHITECTURES, NEW_TOKENS, Architecture, build
from benchmarks.peers.client import PeerMeasurement, PeerWorker
from benchmarks.peers.environment import peers_python
from benchmarks.peers.runtimes import PEERS
from benchmarks.throughput import busy_window, calls_per_run
from imagecaption.observability.latency import percentile

PHOTOS = ["chelsea", "coffee", "astronaut", "rocket", "grace_hopper", "cat", "camera", "page"]
PLANS = "[plans.pro]\nmonthly_credits = 100000000\n"


def load_photos(count: int = len(PHOTOS)) -> list[bytes]:
    """``count`` distinct JPEGs: the photographs in turn, each variant with one pixel changed."""
    originals = [photo(name) for name in PHOTOS]
    found = []
    for index in range(count):
        image = originals[index % len(originals)].copy()
        variant = index // len(originals)
        image.putpixel((variant % image.width, 0), (variant % 256, 255 - variant % 256, 0))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        found.append(buffer.getvalue())
    return found


class Measured(Protocol):
    """What the rounds and the report need of a measurement, in this process or a peer's."""

    concurrency: int
    latencies: list[float]

    def run(self, calls: int) -> None: ...

    @property
    def throughput(self) -> float: ...


@dataclass
class Measurement:
    """One configuration at one concurrency, accumulated over the rounds."""

    work: Callable[[int], object]
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    calls: int = 0
    answered: int = 0
    seconds: float = 0.0
    """Answers and seconds while every client was busy (``busy_window``)."""

    def run(self, calls: int) -> None:
        started = time.perf_counter()

        def one(index: int) -> tuple[float, float]:
            called = time.perf_counter()
            self.work(index)
            finished = time.perf_counter()
            return (finished - called) * 1000, finished - started

        first = self.calls
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            timings = list(pool.map(one, range(first, first + calls)))
        self.latencies += [latency for latency, _ in timings]
        answered, seconds = busy_window([end for _, end in timings], self.concurrency)
        self.answered += answered
        self.seconds += seconds
        self.calls += calls

    @property
    def throughput(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Entry:
    """A measurement and where it goes in the table: one row per runtime and precision, with
    a column group per concurrency."""

    label: str
    runtime: str
    precision: str
    measurement: Measured


def plain_script(
    folder: Path, photos: list[bytes], architecture: Architecture = ARCHITECTURES["git"]
) -> Callable[[int], object]:
    """The architecture's own class and processor, the way its model card calls them."""
    model = getattr(tf, architecture.model_class).from_pretrained(folder).eval()
    if architecture.prompt is None:
        processor = tf.AutoImageProcessor.from_pretrained(folder)  # type: ignore[no-untyped-call]
    else:
        processor = tf.AutoProcessor.from_pretrained(folder)  # type: ignore[no-untyped-call]

    def caption(index: int) -> object:
        image = Image.open(io.BytesIO(photos[index % len(photos)])).convert("RGB")
        if architecture.prompt is None:
            inputs = processor(images=image, return_tensors="pt")
            with torch.inference_mode():
                return model.generate(pixel_values=inputs["pixel_values"], do_sample=False)
        inputs = processor(text=architecture.prompt, images=image, return_tensors="pt")
        with torch.inference_mode():
            return model.generate(**inputs, do_sample=False)

    return caption


def over_http(url: str, key: str, photos: list[bytes]) -> Callable[[int], object]:
    client = httpx.Client(base_url=url, timeout=300)

    def caption(index: int) -> object:
        response = client.post(
            "/v1/imagecaption",
            headers={"X-API-Key": key},
            files={"image": ("p.jpg", photos[index % len(photos)])},
        )
        response.raise_for_status()
        return response

    return caption


def line(label: str, measurement: Measured) -> str:
    ordered = sorted(measurement.latencies)
    return (
        f"{label:<58} p50 {statistics.median(ordered):7.0f} ms  "
        f"p99 {percentile(ordered, 0.99):7.0f} ms  {measurement.throughput:5.2f} img/s"
    )


INT8_FEATURES = {
    "avx512f": "AVX-512",
    "avx512_vnni": "VNNI",
    "avx_vnni": "AVX-VNNI",
    "amx_int8": "AMX",
}
"""CPU flags that decide how fast int8 runs: without VNNI, int8 products take three instructions."""


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    with open("/proc/cpuinfo") as info:
        rows = info.read().splitlines()
    names = [row.split(":", 1)[1].strip() for row in rows if row.startswith("model name")]
    flags = {f for row in rows if row.startswith("flags") for f in row.split(":", 1)[1].split()}
    model = names[0] if names else model
    found = [name for flag, name in INT8_FEATURES.items() if flag in flags]
    model += f" ({', '.join(found) if found else 'no AVX-512, no VNNI'})"
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    libraries = ", ".join(
        f"{name} {version(name)}" for name in ("torch", "transformers", "onnxruntime")
    )
    python = platform.python_version()
    return f"{model}, {os.cpu_count()} cores, {pages:.0f} GiB; Python {python}, {libraries}"


def server_config(folder: Path, runtime: str, batch: int, quantize: bool, extra: str = "") -> str:
    return (
        f'model = "{folder}"\nbackend = "{runtime}"\nquantize = {str(quantize).lower()}\n'
        f"cache_size = 0\nmax_batch_size = {batch}\nmax_batch_wait_ms = 5\n{extra}{PLANS}"
    )


@dataclass(frozen=True)
class Runtime:
    """One of our runtimes as the server is configured for it."""

    label: str
    backend: str
    quantize: bool
    precision: str
    settings: str = ""
    """More of the server's settings, as TOML lines."""
    variant: str = ""
    """What ``settings`` change, for the table's rows."""

    @property
    def row(self) -> str:
        return ", ".join(filter(None, ["ours", self.backend, self.variant, "HTTP"]))


# Large buffers go back to the OS as they are freed (``return_image_memory_bytes``); these show
# what that costs the full models, whose activations can be that large.
GLIBC_DEFAULT = "return_image_memory_bytes = 0\n"
INT8 = "int8 (per-token prefill, 8-bit blocks in the step)"
RUNTIMES = {  # our runtimes: adding one is one entry
    "torch": Runtime("torch float32", "torch", False, "float32"),
    "torch-glibc": Runtime(
        "torch float32, glibc malloc", "torch", False, "float32", GLIBC_DEFAULT, "glibc malloc"
    ),
    "onnx": Runtime("onnx int8", "onnx", True, INT8),
    "onnx-glibc": Runtime(
        "onnx int8, glibc malloc", "onnx", True, INT8, GLIBC_DEFAULT, "glibc malloc"
    ),
    "onnx-fp32": Runtime("onnx float32", "onnx", False, "float32"),
    "onnx-no-gather": Runtime(
        "onnx int8, batches not gathered",
        "onnx",
        True,
        INT8,
        "max_batch_gather_ms = 0\n",
        "batches not gathered",
    ),
    "onnx-spin": Runtime(
        "onnx int8, idle threads spin",
        "onnx",
        True,
        INT8,
        "full_model_spin_wait = true\n",
        "idle threads spin",
    ),
    "onnx-bf16-prefill": Runtime(
        "onnx int8 steps, openvino bf16 prefill",
        "onnx",
        True,
        "bfloat16 prefill (OpenVINO), int8 steps",
        'prefill_runtime = "openvino"\n',
        "prefill on openvino",
    ),
    "openvino": Runtime("openvino int8", "openvino", True, "int8 weights, dynamic activations"),
    "openvino-fp32": Runtime("openvino float32", "openvino", False, "float32"),
}


def servers(
    stack: ExitStack, scratch: Path, folder: Path, runtimes: list[str], unbatched: bool = True
) -> Iterator[tuple[str, int, str, str]]:
    """(runtime name, max batch size, url, key) for every server, all started up front; with
    ``unbatched``, each runtime also gets a server that never batches."""
    for runtime in runtimes:
        chosen = RUNTIMES[runtime]
        for batch in (8, 1) if unbatched else (8,):
            # One data dir per runtime, started one after the other: the onnx export is made once.
            config = server_config(folder, chosen.backend, batch, chosen.quantize, chosen.settings)
            server = stack.enter_context(run_server(scratch / f"server-{runtime}", config, 900))
            yield runtime, batch, server.url, server.create_key("pro")


def start_peers(
    stack: ExitStack, names: list[str], folder: Path, scratch: Path, images: Path, label: str
) -> list[PeerWorker]:
    """The peers that support the architecture, exported and warmed up one after the other
    (so each export time is its own); the others say why not, in one line each."""
    python = peers_python()
    ready = []
    for name in names:
        worker = PeerWorker(python, name, folder, scratch / "peers", images)
        stack.callback(worker.close)
        answer = worker.wait_ready()
        if "unsupported" in answer:
            print(f"peer {name}: does not support {label}: {answer['unsupported']}")
        elif "error" in answer:
            print(f"peer {name}: failed on {label}: {answer['error']} (log: {worker.log_path})")
        else:
            print(
                f"peer {name}: {answer['precision']}, export and quantisation "
                f"{answer['export_seconds']:.0f} s (once, before round 1)"
            )
            ready.append(worker)
    return ready


def _cell(measurement: Measured | None) -> str:
    if measurement is None:
        return "- | - | -"
    ordered = sorted(measurement.latencies)
    return (
        f"{statistics.median(ordered):,.0f} ms | {percentile(ordered, 0.99):,.0f} ms | "
        f"{measurement.throughput:.2f}"
    )


def table(entries: list[Entry]) -> list[str]:
    """Markdown for docs/models.md: one row per runtime and precision, c1 and c8 side by side,
    and the ratios against the plain script (its p50 at c1, its best throughput at c8)."""
    rows: dict[tuple[str, str], dict[int, Measured]] = {}
    for entry in entries:
        rows.setdefault((entry.runtime, entry.precision), {})[entry.measurement.concurrency] = (
            entry.measurement
        )
    plain = rows[("plain transformers script", "float32")]
    plain_p50 = statistics.median(plain[1].latencies)
    plain_best = max(m.throughput for m in plain.values())
    lines = [
        "| runtime | precision | p50 c1 | p99 c1 | img/s c1 | p50 c8 | p99 c8 | img/s c8 "
        "| p50 c1 vs plain | img/s c8 vs plain |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (runtime, precision), by_concurrency in rows.items():
        c1, c8 = by_concurrency.get(1), by_concurrency.get(8)
        faster = f"{plain_p50 / statistics.median(c1.latencies):.2f}x" if c1 else "-"
        more = f"{c8.throughput / plain_best:.2f}x" if c8 else "-"
        lines.append(f"| {runtime} | {precision} | {_cell(c1)} | {_cell(c8)} | {faster} | {more} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--architecture", choices=sorted(ARCHITECTURES), default="git")
    parser.add_argument(
        "--calls", type=int, default=16, help="calls per measurement at concurrency 1"
    )
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds")
    parser.add_argument(
        "--runtimes",
        default="torch,onnx,onnx-fp32",
        help=f"ours, comma-separated, from {', '.join(RUNTIMES)} (onnx is int8)",
    )
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help="peer runtimes, comma-separated (default: all; those that do not support the "
        "architecture say why and are left out)",
    )
    parser.add_argument("--no-peers", action="store_true", help="measure no peer runtime")
    parser.add_argument(
        "--batching-only",
        action="store_true",
        help="no server without dynamic batching (half the servers: every one holds a model, "
        "and 24 GiB do not hold ten of them beside the peers)",
    )
    args = parser.parse_args()
    architecture = ARCHITECTURES[args.architecture]
    runtimes = [name for name in args.runtimes.split(",") if name]
    peers = [] if args.no_peers else [name for name in args.peers.split(",") if name]
    for name in peers:
        if name not in PEERS:
            parser.error(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
    torch.set_num_threads(os.cpu_count() or 1)
    per_round = max(1, args.calls // args.rounds)
    share = calls_per_run(per_round, 8) * args.rounds  # images per measurement
    photos = load_photos(share * (2 + 3 * len(runtimes) + 2 * len(peers)) + 1)
    tokens = NEW_TOKENS + (1 if architecture.prompt else 0)
    print(f"machine: {machine()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(
        f"model: {architecture.label} architecture, random weights, exactly {tokens} new tokens"
        + (" (the first is the start marker <s>)" if architecture.prompt else "")
    )
    print(
        f"images: {len(photos)} distinct JPEGs made from {len(PHOTOS)} scikit-image photographs; "
        f"{args.rounds} interleaved rounds of {per_round} calls (concurrency 1) "
        f"or {calls_per_run(per_round, 8)} (concurrency 8) per measurement; throughput at "
        "concurrency 8 counts the answers given while all 8 clients were busy\n"
    )
    offsets = iter(range(0, len(photos), share))

    def unique(work: Callable[[int], object]) -> Callable[[int], object]:
        """Each measurement calls with its own slice of the images."""
        start = next(offsets)
        return lambda index: work(start + index)

    entries: list[Entry] = []

    def add(label: str, runtime: str, precision: str, measurement: Measured) -> None:
        entries.append(Entry(label, runtime, precision, measurement))

    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        work = Path(scratch)
        folder = build(args.architecture, work / f"{args.architecture}-random")
        images = work / "images"
        images.mkdir()
        for index, data in enumerate(photos):
            (images / f"{index:05d}.jpg").write_bytes(data)
        plain = plain_script(folder, photos, architecture)
        plain(len(photos) - 1)  # warm up
        name = "plain transformers script"
        add("plain generate(), concurrency 1", name, "float32", Measurement(unique(plain), 1))
        add(
            "plain generate(), concurrency 8 (threads)",
            name,
            "float32",
            Measurement(unique(plain), 8),
        )
        for runtime, batch, url, key in servers(
            stack, work, folder, runtimes, not args.batching_only
        ):
            chosen = RUNTIMES[runtime]
            call = over_http(url, key, photos)
            call(len(photos) - 1)  # warm up
            ours = chosen.row
            if batch == 8:
                add(
                    f"ours {chosen.label}, HTTP, concurrency 1",
                    ours,
                    chosen.precision,
                    Measurement(unique(call), 1),
                )
            batching = "dynamic batching" if batch == 8 else "no batching"
            add(
                f"ours {chosen.label}, HTTP, concurrency 8, {batching}",
                ours if batch == 8 else f"{ours}, no batching",
                chosen.precision,
                Measurement(unique(call), 8),
            )
        for worker in start_peers(stack, peers, folder, work, images, architecture.label):
            precision = worker.ready["precision"]
            for concurrency in (1, 8):
                add(
                    f"peer {worker.peer}, concurrency {concurrency}",
                    worker.peer,
                    precision,
                    PeerMeasurement(worker, next(offsets), concurrency),
                )
        print()
        for _ in range(args.rounds):
            for entry in entries:
                measurement = entry.measurement
                measurement.run(calls_per_run(per_round, measurement.concurrency))
    for entry in entries:
        print(line(entry.label, entry.measurement))
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    print(f"\n{architecture.label}, exactly {tokens} new tokens; {machine()}\n")
    print("\n".join(table(entries)))


if __name__ == "__main__":
    main()
