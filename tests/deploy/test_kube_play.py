"""The Kubernetes manifests run for real: the migration Job, then two replicas of the Deployment
on the PostgreSQL and Redis of this machine, under concurrent traffic and a crash."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.deploy.conftest import require_kubectl
from tests.deploy.engine import Podman
from tests.deploy.images import BuiltImage, record
from tests.deploy.kube import (
    OVERLAY,
    Cluster,
    by_kind,
    play,
    render,
    run_migration_job,
    secret_values,
)
from tests.e2e.memory import camera_photos
from tests.replicas.cluster import (
    balance,
    burst,
    charged_calls,
    distinct_image,
    fresh_seed,
    query,
    require_redis,
    statuses,
    wait_until_charged,
    wait_until_no_reservation,
)

pytestmark = pytest.mark.slow
PLANS = {
    "free": {"monthly_credits": 1000, "signup_bonus": 500, "requests_per_minute": 30},
    "exact": {"monthly_credits": 100, "cost_per_call": 10},
    "pro": {"monthly_credits": 1000000},
}


def memory_request_bytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024**2 if unit == "Mi" else 1024**3)


@pytest.fixture(scope="module")
def cluster(
    podman: Podman, image: BuiltImage, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    require_kubectl()
    require_redis()
    rendered = render(OVERLAY)
    secrets = secret_values(database_url)
    run_migration_job(podman, by_kind(rendered, "Job"), secrets, image.name)
    config = {"IMAGECAPTION_PLANS": json.dumps(PLANS), "IMAGECAPTION_AUTO_MIGRATE": "false"}
    workdir = Path(tmp_path_factory.mktemp("kube"))
    with play(podman, workdir, rendered, secrets, config, 2, image.name) as running:
        yield running


def urls(cluster: Cluster) -> list[str]:
    return [replica.url for replica in cluster.replicas]


def test_migration_job_made_the_schema_the_replicas_require(
    cluster: Cluster, database_url: str
) -> None:
    (revision,) = query(database_url, "SELECT version_num FROM alembic_version")
    assert revision[0]
    for replica in cluster.replicas:
        ready = httpx.get(replica.url + "/readyz", timeout=10).json()
        assert ready["shared_state"] == {"rate_limits": "shared", "cache": "shared"}


def test_replicas_run_as_the_manifest_says(cluster: Cluster) -> None:
    for replica in cluster.replicas:
        details = cluster.podman.inspect(replica.name)
        assert details["HostConfig"]["ReadonlyRootfs"] is True
        assert replica.main_process_status()["Uid"].split()[0] == "10001"


def test_one_keys_credits_are_exact_across_replicas(cluster: Cluster, database_url: str) -> None:
    key, key_id = cluster.replicas[0].create_key("exact")  # 100 credits at 10 a call: 10 calls
    outcomes = burst(urls(cluster), key, 40)
    assert statuses(outcomes) == {200: 10, 403: 30}
    wait_until_charged(database_url, key_id, 10)
    assert balance(database_url, key_id)[0] == 0
    assert charged_calls(database_url, key_id) == 10


def test_hpa_scales_on_a_metric_the_replicas_export(cluster: Cluster) -> None:
    hpa = by_kind(cluster.rendered, "HorizontalPodAutoscaler")
    names = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    assert names, "the HPA must scale on the server's own load, not on CPU alone"
    exported = httpx.get(cluster.replicas[0].url + "/metrics", timeout=10).text
    for name in names:
        assert re.search(rf"^{name}(\{{.*\}})? ", exported, re.MULTILINE), name


def test_memory_stays_within_the_request_under_load(cluster: Cluster) -> None:
    replica = cluster.replicas[0]
    key, _ = replica.create_key("pro")
    # A full queue (the manifest's queue_size) of 12-megapixel phone photos, the heaviest load
    # a client is admitted with; a fresh tag, so that Redis's cache from earlier runs answers none.
    images = camera_photos(64, tag=f"kube {fresh_seed()}")
    with ThreadPoolExecutor(max_workers=64) as pool:
        answers = list(pool.map(lambda image: replica.caption(key, image).status_code, images))
    assert set(answers) <= {200, 503}, answers
    peak = int(replica.main_process_status()["VmHWM"].split()[0]) * 1024
    deployment = by_kind(cluster.rendered, "Deployment")
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    request = memory_request_bytes(resources["requests"]["memory"])
    record(replica_peak_rss_mib_64_camera_photos=round(peak / 2**20))
    assert peak < request, f"peak {peak / 2**20:.0f} MiB above the request {request / 2**20} MiB"


def steady_traffic(cluster: Cluster, key: str, seconds: float, workers: int = 8) -> list[int]:
    """Calls with never-seen images, round robin over the replicas, until ``seconds`` pass;
    the status of each (0: the connection failed or was cut)."""
    deadline = time.monotonic() + seconds
    seed = fresh_seed()

    def worker(index: int) -> list[int]:
        replica = cluster.replicas[index % len(cluster.replicas)]
        seen = []
        while time.monotonic() < deadline:
            try:
                image = distinct_image(seed + index * 100_000 + len(seen))
                seen.append(replica.caption(key, image).status_code)
            except httpx.TransportError:
                seen.append(0)
                time.sleep(0.05)
        return seen

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [status for part in pool.map(worker, range(workers)) for status in part]


def test_killed_replica_is_replaced_without_losing_or_double_charging(
    cluster: Cluster, database_url: str
) -> None:
    """Runs last: it kills the second replica's server process, as an out-of-memory kill would."""
    survivor, victim = cluster.replicas
    key, key_id = survivor.create_key("pro")
    _, allowance = balance(database_url, key_id)
    before = cluster.podman.inspect(victim.name)
    with ThreadPoolExecutor(max_workers=1) as pool:
        traffic = pool.submit(steady_traffic, cluster, key, 4.0)
        time.sleep(1.0)
        os.kill(before["State"]["Pid"], signal.SIGKILL)
        outcomes = traffic.result(timeout=120)
    counts = Counter(outcomes)
    assert counts[0] > 0, f"no call was cut off by the kill: {counts}"
    assert set(counts) <= {0, 200, 503}, counts
    # Replaced: the restart policy brings the replica back, and it answers again.
    cluster.podman.wait_healthy_http(victim.url, victim.name, timeout=120)
    after = cluster.podman.inspect(victim.name)
    assert after["RestartCount"] > before["RestartCount"]
    assert after["State"]["Pid"] != before["State"]["Pid"]
    assert victim.caption(key, distinct_image(fresh_seed())).status_code == 200
    delivered = counts[200] + 1
    # Reservations held by the killed process expire and are refunded by a janitor.
    wait_until_no_reservation(database_url, key_id, timeout=30)
    charged = charged_calls(database_url, key_id)
    left, _ = balance(database_url, key_id)
    assert left == allowance - 10 * charged, "the balance must be exactly the charges"
    # Nobody paid for a call cut off mid-way; an answer handed over in the instant before the
    # kill may be unpaid, at most one per client thread.
    assert delivered - 8 <= charged <= delivered
