"""A one-image call keeps job images off the cores from its start to its answer, not only
while it is in the model: here a call whose image URL takes its time (the fetch is part of the
call) holds the job back until it is answered. Counts of images, no timing is asserted.

The server lets jobs go when calls have left it alone for 50 ms, and keeps no share for jobs
while calls never stop (one image per 100 s), so a job that moves during the call would show
that the call was not counted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ImageSite
from tests.e2e.server import RunningServer, run_server
from tests.jobs.conftest import JOBS, inline, small_image

CONFIG = """
model = "offline"
url_allow_list = ["127.0.0.1/32"]
job_quiet_ms = 50
job_min_images_per_second = 0.01

[plans.pro]
monthly_credits = 10000000
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_server(Path(tmp_path_factory.mktemp("turns")), CONFIG) as running:
        yield running


def _finished(client: httpx.Client, job_id: str) -> int:
    data = client.get(f"{JOBS}/{job_id}", params={"limit": 1}).json()["data"]
    return int(data["succeeded"]) + int(data["failed"])


def _wait_for_progress(client: httpx.Client, job_id: str, beyond: int) -> int:
    deadline = time.monotonic() + 60
    while (finished := _finished(client, job_id)) <= beyond:
        assert time.monotonic() < deadline, f"the job is stuck at {finished}"
        time.sleep(0.1)
    return finished


def test_a_call_in_progress_holds_job_images_back_until_it_is_answered(
    server: RunningServer,
) -> None:
    key = server.create_key("pro")
    site = ImageSite()
    held_url, gate = site.add_held("/held.jpg", small_image(7, size=96))
    images = [inline(small_image(100 + i)) for i in range(400)]
    with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as client:
        job_id = client.post(JOBS, json={"images": images}).json()["data"]["job_id"]
        _wait_for_progress(client, job_id, beyond=0)  # the job runs while nothing else does
        answers: list[httpx.Response] = []
        call = threading.Thread(
            target=lambda: answers.append(client.post("/v1/imagecaption", json={"image": held_url}))
        )
        try:
            call.start()
            assert gate.asked.wait(30), "the call never fetched its image"
            at_fetch = _finished(client, job_id)
            time.sleep(1.5)  # tens of job images' worth of time
            during = _finished(client, job_id)
            # At most the images that two job workers had already started before the call came.
            assert during - at_fetch <= 2, (at_fetch, during)
        finally:
            gate.released.set()
            call.join(30)
            site.httpd.shutdown()
        assert answers[0].status_code == 200, answers[0].text
        _wait_for_progress(client, job_id, beyond=during + 2)  # answered: the job goes on
        client.delete(f"{JOBS}/{job_id}")
