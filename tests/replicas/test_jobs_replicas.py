"""One job captioned by two replicas on one PostgreSQL, one of them SIGKILLed mid-job: every
image is captioned, and each is charged exactly once."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import RunningServer
from tests.jobs.conftest import JOBS, inline, small_image, wait_until_ended
from tests.replicas.cluster import balance, query, replica_config, replicas

pytestmark = pytest.mark.slow
IMAGES = 240


def captioned_here(server: RunningServer) -> float:
    """Captions this replica's model made, from its /metrics."""
    metrics = httpx.get(server.url + "/metrics", timeout=10).text
    found = re.search(r"^imagecaption_cache_misses_total ([0-9.e+]+)$", metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_replica_killed_mid_job_loses_nothing_and_charges_each_image_once(
    database_url: str, tmp_path: Path
) -> None:
    config = replica_config(
        database_url, job_lease_seconds=3, job_sweep_seconds=0.3, job_chunk_size=4
    )
    with replicas(tmp_path, config, 2) as (first, second):
        key, key_id = first.create_key_with_id("pro")
        allowance = balance(database_url, key_id)[1]
        images = [inline(small_image(50_000 + i)) for i in range(IMAGES)]
        with httpx.Client(base_url=first.url, timeout=60) as client:
            answer = client.post(JOBS, headers={"X-API-Key": key}, json={"images": images})
            assert answer.status_code == 202, answer.text
            job_id = answer.json()["data"]["job_id"]
            deadline = time.monotonic() + 60
            while captioned_here(second) < 10 or captioned_here(first) < 10:
                assert time.monotonic() < deadline, "both replicas should take part"
                time.sleep(0.1)
            second.process.send_signal(signal.SIGKILL)
            second.process.wait(10)
            held = query(
                database_url,
                "SELECT count(*) FROM job_images WHERE job_id = :job AND state = 'running'",
                job=job_id,
            )
            job = wait_until_ended(client, key, job_id, timeout=180)
    assert (job["status"], job["succeeded"], job["failed"]) == ("done", IMAGES, 0)
    states = query(
        database_url,
        "SELECT state, count(*) FROM job_images WHERE job_id = :job GROUP BY state",
        job=job_id,
    )
    assert states == [("done", IMAGES)]
    charged = query(
        database_url,
        "SELECT count(*), sum(credits) FROM usage WHERE key_id = :key AND credits > 0",
        key=key_id,
    )
    assert charged == [(IMAGES, 10 * IMAGES)]
    left, _ = balance(database_url, key_id)
    assert left == allowance - 10 * IMAGES
    used = query(database_url, "SELECT used FROM api_keys WHERE id = :key", key=key_id)
    assert used == [(10 * IMAGES,)]
    assert query(database_url, "SELECT held FROM jobs WHERE id = :job", job=job_id) == [(0,)]
    assert int(str(held[0][0])) > 0  # it died holding images, which the other one finished
