"""A server of its own for the job tests: fast webhook retries, a small job limit, loopback
image URLs and webhooks allowed."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.accounts.conftest import empty_database_url  # noqa: F401 (SQLite and PostgreSQL)
from tests.conftest import encode, photo
from tests.e2e.server import RunningServer, run_server

JOBS = "/v1/imagecaption/jobs"

CONFIG = """
model = "offline"
url_allow_list = ["127.0.0.1/32"]
log_level = "INFO"
job_max_images = 400
job_sweep_seconds = 0.2
job_callback_backoff_seconds = 0.4
job_callback_max_backoff_seconds = 5
job_callback_retry_seconds = 5

[plans.pro]
monthly_credits = 10000000

[plans.tiny]
monthly_credits = 70
cost_per_call = 10
"""


@pytest.fixture(scope="module")
def job_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_server(Path(tmp_path_factory.mktemp("jobs")), CONFIG) as running:
        yield running


def small_image(seed: int, size: int = 48) -> bytes:
    """A small photo no cache knows: the seed changes two pixels."""
    image = photo("chelsea").convert("RGB").resize((size, size))
    code = seed.to_bytes(6, "big")
    image.putpixel((0, 0), (code[0], code[1], code[2]))
    image.putpixel((1, 0), (code[3], code[4], code[5]))
    return encode(image)


def inline(data: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(data).decode()


def wait_until_ended(
    client: httpx.Client, key: str, job_id: str, timeout: float = 120
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        data: dict[str, object] = client.get(f"{JOBS}/{job_id}", headers={"X-API-Key": key}).json()[
            "data"
        ]
        if data["status"] in ("done", "cancelled") and data["finished_at"]:
            return data
        assert time.monotonic() < deadline, f"job not done after {timeout}s: {data}"
        time.sleep(0.2)
