"""``serve --workers 2``: two processes on one port, and /metrics counts what both served."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import run_server
from tests.replicas.cluster import burst, replica_config, statuses

CALLS = 16


def served_captions(metrics_text: str) -> float:
    pattern = (
        r'imagecaption_requests_total\{[^}]*route="/v1/imagecaption"[^}]*status="200"[^}]*\} (\S+)'
    )
    return sum(float(value) for value in re.findall(pattern, metrics_text))


def scraped_captions(url: str, calls: int, timeout: float = 10) -> float:
    """The served count one scrape reports, once it reaches ``calls`` or the time is up: a call
    is counted once its answer is sent and charged, just after the client has it."""
    deadline = time.monotonic() + timeout
    while True:
        served = served_captions(httpx.get(url + "/metrics", timeout=10).text)
        if served >= calls or time.monotonic() > deadline:
            return served
        time.sleep(0.05)


@pytest.mark.slow
def test_two_workers_share_a_port_and_their_metrics(database_url: str, tmp_path: Path) -> None:
    with run_server(tmp_path, replica_config(database_url, workers=2)) as server:
        key = server.create_key("pro")
        assert statuses(burst([server.url], key, CALLS)) == {200: CALLS}
        assert scraped_captions(server.url, CALLS) == CALLS
        # Whichever worker answers the scrape, it reports the calls served by both.
        for _ in range(4):
            text = httpx.get(server.url + "/metrics", timeout=10).text
            assert served_captions(text) == CALLS
