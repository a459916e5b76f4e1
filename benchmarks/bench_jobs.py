"""One batch job of many small images on one and then two replicas: images per second, and the
median latency of one-image calls made while it runs against the same calls with no job.

Replicas share a throw-away PostgreSQL database (the job queue lives there too). The job's
images are URLs on a loopback image server (the server's allow-list admits it), every one a
different picture, so no cache answers. The one-image calls are made one at a time (the
replicas in turn, as a load balancer would), each with a picture never sent before: idle before
the job, during it, and idle again after it; the idle figure is the median of both idle runs.
The job's rate counts the whole job, the calls made meanwhile included (while calls keep coming,
a process gives jobs ``job_min_images_per_second``).

    python -m benchmarks.bench_jobs [--images 10000] [--calls 60]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from tests.accounts.conftest import scratch_postgres_database
from tests.conftest import photo
from tests.e2e.conftest import ImageSite
from tests.e2e.server import RunningServer
from tests.replicas.cluster import distinct_image, fresh_seed, replica_config, replicas

JOBS = "/v1/imagecaption/jobs"


def small_images(count: int, seed: int, size: int = 64) -> list[bytes]:
    base = photo("chelsea").convert("RGB").resize((size, size))
    images = []
    for index in range(count):
        image = base.copy()
        code = (seed + index).to_bytes(6, "big")
        image.putpixel((0, 0), (code[0], code[1], code[2]))
        image.putpixel((1, 0), (code[3], code[4], code[5]))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")  # JPEG would smooth the two pixels away: one image
        images.append(buffer.getvalue())
    return images


def pictures(calls: int, seed: int) -> list[bytes]:
    return [distinct_image(seed + index) for index in range(calls)]


def one_image_latencies(servers: list[RunningServer], key: str, images: list[bytes]) -> list[float]:
    """Milliseconds per call, one call at a time, taking the replicas in turn as a load
    balancer would."""
    latencies = []
    with httpx.Client(timeout=60) as client:
        for index, image in enumerate(images):
            url = servers[index % len(servers)].url + "/v1/imagecaption"
            started = time.perf_counter()
            answer = client.post(url, headers={"X-API-Key": key}, files={"image": ("i.jpg", image)})
            latencies.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
    return latencies


def job_status(client: httpx.Client, key: str, job_id: str) -> dict[str, object]:
    data: dict[str, object] = client.get(
        f"{JOBS}/{job_id}", params={"limit": 1}, headers={"X-API-Key": key}
    ).json()["data"]
    return data


def run(
    count: int, quiet_ms: float, args: argparse.Namespace, site: ImageSite, database_url: str
) -> str:
    config = replica_config(
        database_url,
        url_allow_list=["127.0.0.1/32"],
        log_level="WARNING",
        job_quiet_ms=quiet_ms,
    )
    seed = fresh_seed()
    urls = [
        site.add(f"/bench/{seed}/{index}.jpg", image)
        for index, image in enumerate(small_images(args.images, seed))
    ]
    with tempfile.TemporaryDirectory() as root, replicas(Path(root), config, count) as servers:
        key = servers[0].create_key("pro")
        one_image_latencies(servers, key, pictures(5, seed + 10**7))  # warm the path
        idle = one_image_latencies(servers, key, pictures(args.calls, seed + 2 * 10**7))
        busy_pictures = pictures(args.calls, seed + 3 * 10**7)
        with httpx.Client(base_url=servers[0].url, timeout=120) as client:
            answer = client.post(JOBS, headers={"X-API-Key": key}, json={"images": urls})
            assert answer.status_code == 202, answer.text
            job_id = answer.json()["data"]["job_id"]
            started = time.monotonic()
            time.sleep(2)  # the workers are at it
            before = job_status(client, key, job_id)["succeeded"]
            busy_started = time.monotonic()
            busy = one_image_latencies(servers, key, busy_pictures)
            during = job_status(client, key, job_id)["succeeded"]
            window = time.monotonic() - busy_started
            print(
                f"{count} replica(s), quiet {quiet_ms:g} ms: {during - before} job images "
                f"in the {window:.1f} s the calls ran; calls: mean "
                f"{statistics.mean(busy):.0f} ms, max {max(busy):.0f} ms",
                flush=True,
            )
            while (job := job_status(client, key, job_id))["status"] != "done":
                time.sleep(0.5)
            seconds = time.monotonic() - started
        idle += one_image_latencies(servers, key, pictures(args.calls, seed + 4 * 10**7))
    assert job["succeeded"] == args.images, job
    idle_p50 = statistics.median(idle)
    busy_p50 = statistics.median(busy)
    return (
        f"| {count} | {quiet_ms:g} | {args.images:,} | {seconds:.0f} | {args.images / seconds:.1f} "
        f"| {idle_p50:.1f} | {busy_p50:.1f} | {busy_p50 / idle_p50:.2f}x |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=60, help="one-image calls per measurement")
    parser.add_argument("--replicas", default="1,2")
    parser.add_argument(
        "--quiet-ms", default="100", help="job_quiet_ms values to compare, e.g. 100,250"
    )
    args = parser.parse_args()
    site = ImageSite()
    rows = [
        "| replicas | job_quiet_ms | images | job seconds | img/s | one-image p50 idle (ms) "
        "| p50 during the job (ms) | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    try:
        with scratch_postgres_database() as database_url:
            for count in (int(n) for n in args.replicas.split(",")):
                for quiet_ms in (float(q) for q in args.quiet_ms.split(",")):
                    rows.append(run(count, quiet_ms, args, site, database_url))
                    print(rows[-1], flush=True)
    finally:
        site.httpd.shutdown()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
