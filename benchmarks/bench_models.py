"""Full captioning models: a plain transformers script versus our backends, side by side.

One run, the same real photographs, the default full model's architecture (GIT-base: the
full-size config with random weights, which costs what the trained model costs) forced to exactly
20 new tokens (``min_new_tokens = max_new_tokens = 20`` in the saved generation config, which both
``generate()`` and our decoder honour). Measured:

- plain: ``processor(...)`` + ``model.generate(...)`` called once per image, float32, the way a
  captioning script does it; sequentially (concurrency 1) and from 8 threads (concurrency 8);
- ours, over HTTP against real server processes serving the saved folder (``--model <folder>``):
  the torch backend (float32) and the onnx backend in int8 and in float32, at
  concurrency 1, and at concurrency 8 with dynamic batching (``max_batch_size = 8``) and
  without (``max_batch_size = 1``).

Every call sends an image no other call sends (the photographs, each re-encoded with one pixel
changed), so neither the caption cache nor in-flight de-duplication can answer for the model.
Shared 2-core machines drift between fast and slow spells that last tens of seconds, so the
measurements are interleaved: every server runs for the whole benchmark, and each round gives
every measurement its share of the calls; the figures pool all rounds.

    python -m benchmarks.bench_models [--calls 16] [--rounds 4] [--runtimes torch,onnx,onnx-fp32]
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

import httpx
import torch
import transformers as tf
from PIL import Image
from tests.conftest import photo
from tests.e2e.server import run_server

from imagecaption.observability.latency import percentile

NEW_TOKENS = 20
PHOTOS = ["chelsea", "coffee", "astronaut", "rocket", "grace_hopper", "cat", "camera", "page"]
PLANS = "[plans.pro]\nmonthly_credits = 100000000\n"


def build_git_base(folder: Path) -> Path:
    """GIT-base (the architecture of microsoft/git-base-coco), random weights, 20 tokens."""
    folder.mkdir(parents=True, exist_ok=True)
    words = ["[PAD]", *(f"[unused{i}]" for i in range(100)), "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words += [f"word{i}" for i in range(30522 - len(words))]
    (folder / "vocab.txt").write_text("\n".join(words))
    tokenizer = tf.BertTokenizer(str(folder / "vocab.txt"))
    torch.manual_seed(0)
    model = tf.GitForCausalLM(tf.GitConfig())  # defaults: ViT-B/16 at 224 px, 6-layer decoder
    model.generation_config.min_new_tokens = NEW_TOKENS
    model.generation_config.max_new_tokens = NEW_TOKENS
    image_processor = tf.CLIPImageProcessor(
        size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}
    )
    tf.GitProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


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


@dataclass
class Measurement:
    """One configuration at one concurrency, accumulated over the rounds."""

    work: Callable[[int], object]
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    calls: int = 0

    def run(self, calls: int) -> None:
        def one(index: int) -> float:
            started = time.perf_counter()
            self.work(index)
            return (time.perf_counter() - started) * 1000

        first = self.calls
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            self.latencies += pool.map(one, range(first, first + calls))
        self.seconds += time.perf_counter() - started
        self.calls += calls

    @property
    def throughput(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


def plain_script(folder: Path, photos: list[bytes]) -> Callable[[int], object]:
    processor = tf.AutoProcessor.from_pretrained(folder)
    model = tf.GitForCausalLM.from_pretrained(folder).eval()

    def caption(index: int) -> object:
        image = Image.open(io.BytesIO(photos[index % len(photos)])).convert("RGB")
        inputs = processor(images=image, return_tensors="pt")
        with torch.inference_mode():
            return model.generate(pixel_values=inputs["pixel_values"], do_sample=False)

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


def line(label: str, measurement: Measurement) -> str:
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


def server_config(folder: Path, runtime: str, batch: int, quantize: bool) -> str:
    return (
        f'model = "{folder}"\nbackend = "{runtime}"\nquantize = {str(quantize).lower()}\n'
        f"cache_size = 0\nmax_batch_size = {batch}\nmax_batch_wait_ms = 5\n{PLANS}"
    )


RUNTIMES = {  # name -> (label, backend, quantize)
    "torch": ("torch float32", "torch", False),
    "onnx": ("onnx int8", "onnx", True),
    "onnx-fp32": ("onnx float32", "onnx", False),
}


def servers(
    stack: ExitStack, scratch: Path, folder: Path, runtimes: list[str]
) -> Iterator[tuple[str, int, str, str]]:
    """(runtime label, max batch size, url, key) for every server, all started up front."""
    for runtime in runtimes:
        label, backend, quantize = RUNTIMES[runtime]
        for batch in (8, 1):
            # One data dir per runtime, started one after the other: the onnx export is made once.
            config = server_config(folder, backend, batch, quantize)
            server = stack.enter_context(run_server(scratch / f"server-{runtime}", config, 900))
            yield label, batch, server.url, server.create_key("pro")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=16, help="calls per measurement")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds")
    parser.add_argument(
        "--runtimes", default="torch,onnx,onnx-fp32", help="onnx is int8, onnx-fp32 float32"
    )
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    per_round = max(1, args.calls // args.rounds)
    photos = load_photos(4 * per_round * args.rounds * (2 + 3 * len(args.runtimes.split(","))))
    print(f"machine: {machine()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(f"model: GIT-base architecture, random weights, exactly {NEW_TOKENS} new tokens")
    print(
        f"images: {len(photos)} distinct JPEGs made from {len(PHOTOS)} scikit-image photographs; "
        f"{args.rounds} interleaved rounds of {per_round} calls (concurrency 1) "
        f"or {2 * per_round} (concurrency 8) per measurement\n"
    )
    offsets = iter(range(0, len(photos), 2 * per_round * args.rounds))

    def unique(work: Callable[[int], object]) -> Callable[[int], object]:
        """Each measurement calls with its own slice of the images."""
        start = next(offsets)
        return lambda index: work(start + index)

    measurements: dict[str, Measurement] = {}
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        folder = build_git_base(Path(scratch) / "git-base-random")
        plain = plain_script(folder, photos)
        plain(0)  # warm up
        measurements["plain generate(), concurrency 1"] = Measurement(unique(plain), 1)
        measurements["plain generate(), concurrency 8 (threads)"] = Measurement(unique(plain), 8)
        for label, batch, url, key in servers(
            stack, Path(scratch), folder, args.runtimes.split(",")
        ):
            call = over_http(url, key, photos)
            call(len(photos) - 1)  # warm up
            if batch == 8:
                measurements[f"ours {label}, HTTP, concurrency 1"] = Measurement(unique(call), 1)
            name = "dynamic batching" if batch == 8 else "no batching"
            measurements[f"ours {label}, HTTP, concurrency 8, {name}"] = Measurement(
                unique(call), 8
            )
        for _ in range(args.rounds):
            for measurement in measurements.values():
                calls = per_round * (2 if measurement.concurrency > 1 else 1)
                measurement.run(calls)
    for label, measurement in measurements.items():
        print(line(label, measurement))
    plain_best = max(m.throughput for label, m in measurements.items() if "plain" in label)
    plain_p50 = statistics.median(measurements["plain generate(), concurrency 1"].latencies)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    for label, measurement in measurements.items():
        if "concurrency 1" in label and "plain" not in label:
            ratio = plain_p50 / statistics.median(measurement.latencies)
            print(f"{label}: p50 {ratio:.1f}x below the plain script's")
        if "concurrency 8" in label and "plain" not in label:
            ratio = measurement.throughput / plain_best
            print(f"{label}: {ratio:.1f}x the plain script's best throughput")


if __name__ == "__main__":
    main()
