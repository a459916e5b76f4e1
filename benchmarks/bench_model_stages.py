"""Where a full model's caption time goes, stage by stage, before anything is made faster.

One full-size model with random weights (``benchmarks.architectures``, exactly 20 new tokens),
our onnx backend, and one server over HTTP, all in one run:

- **in process**: pre-processing (resize and normalise, ``Captioner.preprocess``), the prefill
  call at batch 1 (the vision encoder, then the decoder over the prompt), and each later decoder
  step at batch 1; the prefill and step graphs are then profiled node by node by ONNX Runtime and
  their time split into the vision encoder, the decoder layers, the vocabulary projection and
  the rest, by the module each node came from;
- **over HTTP**: the client's latency, and the server's own ``timing_ms`` (reading the upload,
  decoding the image, captioning: queue, pre-processing and model), so what is left is HTTP and
  the framework.

    python -m benchmarks.bench_model_stages [--architecture git] [--precision int8] [--calls 24]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
from PIL import Image
from tests.e2e.server import run_server

from benchmarks.architectures import ARCHITECTURES, NEW_TOKENS, build
from benchmarks.bench_models import PLANS, load_photos, machine
from imagecaption.models.cpus import usable_cpus
from imagecaption.models.hf.captioner import TransformersCaptioner
from imagecaption.models.hf.folder import check_folder, load_processors
from imagecaption.models.hf.onnx_backend import OnnxBackend, OnnxRuntime, load_or_export

PARTS: dict[str, tuple[str, ...]] = {
    # node-name fragments of each part (the exporter names nodes after their module); the first
    # part that matches wins, so the GIT decoder ("/model/git/encoder") is not the vision encoder
    "int8 activation quantisation": ("/quantize/",),
    "vocabulary projection": ("/model/output", "lm_head", "cls/predictions", "output_projection"),
    "decoder layers": ("/model/git/encoder", "text_decoder", "/decoder/", "language_model"),
    "vision encoder": ("image_encoder", "visual_projection", "vision", "/encoder/"),
}


def median_ms(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def part_of(node: str) -> str:
    return next(
        (part for part, fragments in PARTS.items() if any(f in node for f in fragments)),
        "other (embeddings, masks, shapes)",
    )


def profile(graph: Path, feeds: dict[str, np.ndarray], threads: int, repeats: int) -> Counter[str]:
    """Kernel time per part, summed over ``repeats`` runs, from ONNX Runtime's own profiler."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_profiling = True
    options.profile_file_prefix = str(graph.parent / f"profile-{graph.stem}")
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    accepted = {given.name for given in session.get_inputs()}
    feeds = {name: value for name, value in feeds.items() if name in accepted}
    for _ in range(repeats):
        session.run(None, feeds)
    events = json.loads(Path(session.end_profiling()).read_text())
    parts: Counter[str] = Counter()
    for event in events:
        name = event.get("name", "")
        if event.get("cat") == "Node" and name.endswith("_kernel_time"):
            parts[part_of(name.removesuffix("_kernel_time"))] += event["dur"]
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--architecture", default="git", choices=sorted(ARCHITECTURES))
    parser.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    parser.add_argument("--calls", type=int, default=24, help="HTTP calls, and model repeats")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    threads = usable_cpus()
    quantize = args.precision == "int8"
    print(f"machine: {machine()}")
    print(
        f"model: {ARCHITECTURES[args.architecture].label} architecture, random weights, "
        f"exactly {NEW_TOKENS} new tokens; onnx {args.precision}; {threads} threads\n"
    )
    photos = load_photos(args.calls + 1)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        folder = build(args.architecture, work / f"{args.architecture}-random")
        architecture = check_folder(folder)
        processors = load_processors(folder, architecture)
        export = load_or_export(folder, architecture, processors, work / "onnx", quantize)
        captioner = TransformersCaptioner(
            folder.name, lambda: folder, OnnxBackend(work / "onnx", quantize, threads)
        )
        captioner.load()
        images = [Image.open(io.BytesIO(data)).convert("RGB") for data in photos]
        preprocess = median_ms(lambda: captioner.preprocess(images[0]), args.calls)
        runtime = OnnxRuntime(export, threads)
        pixels = captioner.preprocess(images[0])[None].astype(np.float32)
        prompt = np.array([export.spec.prompts["brief"]], dtype=np.int64)
        runtime.prefill(pixels, prompt)  # warm up
        prefill = median_ms(lambda: runtime.prefill(pixels, prompt), max(4, args.calls // 2))
        logits, state = runtime.prefill(pixels, prompt)
        token = logits.argmax(-1)[:, None].astype(np.int64)
        steps = []
        for _ in range(max(2, args.calls // 8)):
            current = state
            for _ in range(NEW_TOKENS - 1):
                started = time.perf_counter()
                _, current = runtime.step(token, current)
                steps.append((time.perf_counter() - started) * 1000)
        step = statistics.median(steps)
        prefill_parts = profile(
            export.prefill,
            {"pixel_values": pixels, "input_ids": prompt},
            threads,
            4,
        )
        flat = [*state.static, *state.dynamic]
        names = [f"static_{i}" for i in range(len(state.static))]
        names += [f"dynamic_{i}" for i in range(len(state.dynamic))]
        step_parts = profile(
            export.step, {"input_ids": token, **dict(zip(names, flat, strict=True))}, threads, 40
        )

        config = (
            f'model = "{folder}"\nbackend = "onnx"\nquantize = {str(quantize).lower()}\n'
            f"cache_size = 0\nmax_batch_size = 8\nmax_batch_wait_ms = 5\n{PLANS}"
        )
        with run_server(work / "server", config, 900) as server:
            key = server.create_key("pro")
            client = httpx.Client(base_url=server.url, timeout=300)
            latencies, timings = [], []
            for index, data in enumerate(photos):
                started = time.perf_counter()
                response = client.post(
                    "/v1/imagecaption",
                    headers={"X-API-Key": key},
                    params={"details": "true"},
                    files={"image": ("p.jpg", data)},
                )
                response.raise_for_status()
                if index:  # the first call warms the server up
                    latencies.append((time.perf_counter() - started) * 1000)
                    timings.append(response.json()["data"]["timing_ms"])

    http = statistics.median(latencies)
    served = {key: statistics.median(t[key] for t in timings) for key in timings[0]}
    around = {
        "HTTP and framework (client latency less the server's total)": http - served["total"],
        "reading the upload": served["read"],
        "decoding the image": served["decode"],
        "pre-processing (resize, normalise)": preprocess,
    }
    parts = {
        f"prefill: {part}": prefill * share / sum(prefill_parts.values())
        for part, share in prefill_parts.most_common()
    }
    parts |= {
        f"{NEW_TOKENS - 1} steps: {part}": (NEW_TOKENS - 1)
        * step
        * share
        / sum(step_parts.values())
        for part, share in step_parts.most_common()
    }
    whole = sum(around.values()) + sum(parts.values())
    # The in-process model times and the HTTP calls are minutes apart, and these machines drift
    # between fast and slow spells: shares are of their own sum, so that they add up to 100%.
    print("| stage | median ms | share |")
    print("|---|---:|---:|")
    for label, ms in (around | parts).items():
        print(f"| {label} | {ms:.1f} | {100 * ms / whole:.0f}% |")
    print(
        f"\nsum {whole:.1f} ms; in process: prefill {prefill:.1f} ms, one step {step:.2f} ms; "
        f"over HTTP ({len(latencies)} calls): p50 {http:.1f} ms, of which the server timed "
        f"{served['caption']:.1f} ms for captioning (queue, pre-processing, model)"
    )


if __name__ == "__main__":
    main()
