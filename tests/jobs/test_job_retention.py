"""Finished jobs are deleted once their retention has passed (here two seconds, 30 days by
default), and reading one then answers 404 with a message that says so."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import RunningServer, run_server
from tests.jobs.conftest import JOBS, inline, small_image, wait_until_ended

RETENTION_SECONDS = 2

CONFIG = f"""
model = "offline"
job_sweep_seconds = 0.2
job_retention_days = {RETENTION_SECONDS / 86_400!r}

[plans.pro]
monthly_credits = 10000000
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_server(Path(tmp_path_factory.mktemp("retention")), CONFIG) as running:
        yield running


def test_a_finished_job_is_deleted_after_its_retention(server: RunningServer) -> None:
    key = server.create_key("pro")
    with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as client:
        job_id = client.post(JOBS, json={"images": [inline(small_image(1))]}).json()["data"][
            "job_id"
        ]
        job = wait_until_ended(client, key, job_id)
        ended = time.monotonic()
        assert job["succeeded"] == 1
        assert "caption" in job["results"][0]  # type: ignore[index]
        deadline = ended + RETENTION_SECONDS + 20
        while (answer := client.get(f"{JOBS}/{job_id}")).status_code == 200:
            assert time.monotonic() < deadline, "the job outlived its retention"
            time.sleep(0.2)
        finished = datetime.fromisoformat(str(job["finished_at"]))
        kept = (datetime.now(UTC) - finished).total_seconds()  # the server's clock is ours
        assert answer.status_code == 404
        message = answer.json()["error"]
        assert message.startswith(f"No such job: {job_id}. Finished jobs and their results")
        assert "deleted" in message
        assert kept >= RETENTION_SECONDS
        assert client.get(JOBS).json()["data"]["jobs"] == []
    assert job_id not in server.cli("jobs", "list")
