"""Full captioning models: a plain transformers script versus our backends, side by side.

One run, the same real photographs, the default full model's architecture (GIT-base: the
full-size config with random weights, which costs what the trained model costs) forced to exactly
20 new tokens (``min_new_tokens = max_new_tokens = 20`` in the saved generation config, which both
``generate()`` and our decoder honour). Measured:

- plain: ``processor(...)`` + ``model.generate(...)`` called once per image, float32, the way a
  captioning script does it; sequentially (concurrency 1) and from 8 threads (concurrency 8);
- ours, over HTTP against real server processes serving the saved folder (``--model <folder>``):
  the torch backend (float32) and the onnx backend (int8 unless ``--no-quantize``), at
  concurrency 1, and at concurrency 8 with dynamic batching (``max_batch_size = 8``) and
  without (``max_batch_size = 1``).

    python -m benchmarks.bench_models [--calls 16] [--runtimes torch,onnx]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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


def load_photos() -> list[bytes]:
    found = []
    for name in PHOTOS:
        buffer = io.BytesIO()
        photo(name).save(buffer, "JPEG", quality=90)
        found.append(buffer.getvalue())
    return found


def timed(work: Callable[[int], object], calls: int, concurrency: int) -> tuple[list[float], float]:
    """Per-call latencies (ms) and throughput (calls/s) of ``calls`` calls of ``work``."""

    def one(index: int) -> float:
        started = time.perf_counter()
        work(index)
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = list(pool.map(one, range(calls)))
    return latencies, calls / (time.perf_counter() - started)


def plain_script(folder: Path, photos: list[bytes]) -> Callable[[int], object]:
    processor = tf.AutoProcessor.from_pretrained(folder)
    model = tf.GitForCausalLM.from_pretrained(folder).eval()
    images = [Image.open(io.BytesIO(data)).convert("RGB") for data in photos]

    def caption(index: int) -> object:
        inputs = processor(images=images[index % len(images)], return_tensors="pt")
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


def line(label: str, latencies: list[float], throughput: float) -> str:
    ordered = sorted(latencies)
    return (
        f"{label:<44} p50 {statistics.median(ordered):7.0f} ms  "
        f"p99 {percentile(ordered, 0.99):7.0f} ms  {throughput:5.2f} img/s"
    )


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    with open("/proc/cpuinfo") as info:
        names = [row.split(":", 1)[1].strip() for row in info if row.startswith("model name")]
    model = names[0] if names else model
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=16, help="calls per measurement")
    parser.add_argument("--runtimes", default="torch,onnx")
    parser.add_argument("--no-quantize", action="store_true", help="onnx in float32")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    photos = load_photos()
    print(f"machine: {machine()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(f"model: GIT-base architecture, random weights, exactly {NEW_TOKENS} new tokens")
    print(f"images: {len(photos)} photographs from scikit-image, JPEG; {args.calls} calls each\n")
    results: dict[str, tuple[list[float], float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = build_git_base(Path(scratch) / "git-base-random")
        plain = plain_script(folder, photos)
        plain(0)  # warm up
        results["plain generate(), concurrency 1"] = timed(plain, args.calls, 1)
        results["plain generate(), concurrency 8 (threads)"] = timed(plain, args.calls, 8)
        del plain
        for runtime in args.runtimes.split(","):
            label = f"{runtime}{'' if runtime == 'torch' or args.no_quantize else ' int8'}"
            data_dir = Path(scratch) / f"server-{runtime}"  # shared: one export per runtime
            for batch in (8, 1):
                config = server_config(folder, runtime, batch, not args.no_quantize)
                with run_server(data_dir, config, timeout=900) as server:
                    call = over_http(server.url, server.create_key("pro"), photos)
                    call(0)
                    if batch == 8:
                        results[f"ours {label}, HTTP, concurrency 1"] = timed(call, args.calls, 1)
                    name = "dynamic batching" if batch == 8 else "no batching"
                    results[f"ours {label}, HTTP, concurrency 8, {name}"] = timed(
                        call, args.calls * 2, 8
                    )
    for label, (latencies, throughput) in results.items():
        print(line(label, latencies, throughput))
    plain_best = max(throughput for label, (_, throughput) in results.items() if "plain" in label)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    for label, (_, throughput) in results.items():
        if "dynamic batching" in label:
            print(f"{label}: {throughput / plain_best:.1f}x the plain script's best throughput")


if __name__ == "__main__":
    main()
