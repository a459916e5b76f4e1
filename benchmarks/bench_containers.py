"""The light image serving an exported folder against the models image serving the model itself:
image sizes, the exported folder's size, and cold start, in one run.

GIT-base at full size with random weights (``benchmarks/architectures.py``). Both images are
built from the Dockerfile by podman on a Debian base made with debootstrap, as the container
tests build them (``tests/deploy/images.py``): the light one (``EXTRAS=postgres``) and the models
one (``EXTRAS=postgres,models``, torch's CPU build). Where pip finds wheels in a local folder
(its ``find-links``, e.g. torch's CPU wheel), that folder is served to the build as a package
index over loopback; otherwise torch comes from ``--torch-index``.

Measured:

- each image's size, and ``models export``'s folder for the model, int8 and float32;
- cold start, from ``podman run`` to ``/readyz`` answering 200 (the model loaded and warmed up):
  the light image with the int8 export mounted read-only at /models, against the models image
  with the model folder mounted there and ``--backend onnx`` (int8), whose first start exports
  the graphs into its data volume (timed once) and whose later starts reuse them. Each keeps its
  data volume across its starts; the starts alternate, and the medians are printed with every
  start's time. The images and the model are on this machine's disk and in its page cache, as
  on a node that has run them before: pulling them is not counted;
- resident memory once ready, and the peak after 32 calls from 8 concurrent clients.

Run as root with podman installed (see ``.ci/run``):

    python -m benchmarks.bench_containers [--starts 3]
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import logging
import os
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.deploy.containers import Served, served
from tests.deploy.engine import Podman, unavailable_reason
from tests.deploy.images import app_image, base_image, pip_config

from benchmarks.architectures import build
from benchmarks.bench_exported import folder_mib
from benchmarks.bench_models import load_photos, machine
from imagecaption.models.hf.export import export_model
from imagecaption.settings import load_settings

MODEL = "/models/git-base"
LOCAL_INDEX_PORT = 45361
"""Fixed, so that the models image's build arguments, and so its tag, are the same from run to
run: a second run finds the image built by the first."""


@contextlib.contextmanager
def local_wheels_index() -> Iterator[str | None]:
    """pip's find-links folders as a simple index on a loopback port, for the build (which runs
    on the host network and cannot see the folders); None where pip has none."""
    links = os.environ.get("PIP_FIND_LINKS") or pip_config("find-links") or ""
    wheels = [w for d in links.split() if Path(d).is_dir() for w in Path(d).glob("*.whl")]
    if not wheels:
        yield None
        return
    with tempfile.TemporaryDirectory() as root:
        for wheel in wheels:
            project = Path(root, "simple", wheel.name.split("-")[0].lower().replace("_", "-"))
            project.mkdir(parents=True, exist_ok=True)
            (project / wheel.name).symlink_to(wheel)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", LOCAL_INDEX_PORT), lambda *a: Quiet(*a, directory=root)
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/simple"
        finally:
            server.shutdown()


def status_mib(server: Served, field: str) -> float:
    return int(server.main_process_status()[field].split()[0]) / 1024


def start(podman: Podman, image: str, volume: str, mount: str, env: dict[str, str]) -> float:
    """Seconds from ``podman run`` to ready; the container is removed after."""
    began = time.monotonic()
    with served(podman, image, volume=volume, mounts=(mount,), env=env, ready=False) as server:
        podman.wait_healthy_http(server.url, server.name, timeout=1800)
        return time.monotonic() - began


def memory(podman: Podman, image: str, volume: str, mount: str, env: dict[str, str]) -> str:
    """Resident memory once ready, and the peak after 8 concurrent clients' 32 calls."""
    photos = load_photos(32)
    with served(podman, image, volume=volume, mounts=(mount,), env=env, ready=False) as server:
        podman.wait_healthy_http(server.url, server.name, timeout=1800)
        ready = status_mib(server, "VmRSS")
        key, _ = server.create_key("pro")
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda p: server.caption(key, p).status_code, photos))
        assert set(answers) == {200}, answers
        return f"resident {ready:.0f} MiB once ready, peak {status_mib(server, 'VmHWM'):.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=3, help="starts of each image")
    parser.add_argument("--torch-index", default="https://download.pytorch.org/whl/cpu")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per readiness poll
    reason = unavailable_reason()
    if reason:
        raise SystemExit(reason)
    print(f"machine: {machine()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        work = Path(scratch)
        podman = Podman.create(work / "podman")
        base = base_image(podman)
        light = app_image(podman, base)
        index = stack.enter_context(local_wheels_index()) or args.torch_index
        models = app_image(
            podman,
            base,
            "models",
            [
                "--build-arg",
                "EXTRAS=postgres,models",
                "--build-arg",
                f"PIP_EXTRA_INDEX_URL={index}",
            ],
        )
        for label, built in (("light image", light), ("models image", models)):
            took = f", built in {built.build_seconds:.0f} s" if built.build_seconds else ""
            print(f"{label}: {built.size_bytes / 1e6:.0f} MB{took}", flush=True)
        folder = build("git", work / "git-base-random")
        # transformers 5 writes model.safetensors readable by its owner only; the image's user
        # (uid 10001) reads the folder through the mount.
        for path in folder.iterdir():
            path.chmod(path.stat().st_mode | 0o444)
        settings = load_settings(None, data_dir=work / "data")
        exports = {}
        for quantize, precision in ((True, "int8"), (False, "float32")):
            began = time.monotonic()
            exports[precision] = export_model(str(folder), work / precision, quantize, settings)
            print(
                f"models export, {precision}: {folder_mib(exports[precision]):.0f} MiB in "
                f"{time.monotonic() - began:.0f} s (model folder {folder_mib(folder):.0f} MiB)",
                flush=True,
            )
        env = {"IMAGECAPTION_MODEL": MODEL, "IMAGECAPTION_BACKEND": "onnx"}
        runs = {
            "light image, exported int8 folder": (light.name, f"{exports['int8']}:{MODEL}:ro"),
            "models image, model folder, onnx int8": (models.name, f"{folder}:{MODEL}:ro"),
        }
        volumes = {}
        for label in runs:
            volumes[label] = f"imagecaption-test-bench-{secrets.token_hex(4)}"
            podman.run("volume", "create", volumes[label])
            stack.callback(podman.run, "volume", "rm", "--force", volumes[label], check=False)
        for label, (image, mount) in runs.items():
            seconds = start(podman, image, volumes[label], mount, env)
            print(f"{label}, first start: {seconds:.1f} s", flush=True)
        starts: dict[str, list[float]] = {label: [] for label in runs}
        for _ in range(args.starts):
            for label, (image, mount) in runs.items():
                starts[label].append(start(podman, image, volumes[label], mount, env))
        print(f"\ncold start (podman run to ready), {args.starts} starts each, alternating:")
        for label, seconds in starts.items():
            every = ", ".join(f"{s:.1f}" for s in seconds)
            print(f"  {label}: median {statistics.median(seconds):.1f} s ({every})")
        light_median, models_median = (statistics.median(s) for s in starts.values())
        print(f"  light / models image: {light_median / models_median:.2f}x")
        for label, (image, mount) in runs.items():
            print(f"{label}: {memory(podman, image, volumes[label], mount, env)}", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
