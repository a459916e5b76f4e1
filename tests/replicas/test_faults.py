"""PostgreSQL and Redis stopped in the middle of traffic: 503s or local fallbacks, never 500s.

These stop servers, so they use a PostgreSQL instance and a redis-server of their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import RunningServer, run_server
from tests.replicas.cluster import (
    Outcome,
    OwnPostgres,
    OwnRedis,
    assert_books_balance,
    burst,
    replica_config,
    statuses,
    wait_until_no_reservation,
)

pytestmark = pytest.mark.slow
TTL_SECONDS = 2


@pytest.fixture(scope="module")
def postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def replica(
    postgres: OwnPostgres, redis_server: OwnRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    config = replica_config(postgres.url, redis_server.url, reservation_ttl_seconds=TTL_SECONDS)
    with run_server(Path(tmp_path_factory.mktemp("faulty")), config) as running:
        yield running


def test_database_down_means_fast_503_then_recovery(
    replica: RunningServer, postgres: OwnPostgres
) -> None:
    key, key_id = replica.create_key_with_id("pro")
    outcomes: list[Outcome] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            outcomes.extend(burst([replica.url], key, 4))

    worker = threading.Thread(target=traffic, daemon=True)
    worker.start()
    time.sleep(0.5)
    postgres.stop()
    time.sleep(2)
    stop.set()
    worker.join(60)
    counts = statuses(outcomes)
    assert set(counts) <= {200, 503}, counts
    assert counts.get(503, 0) > 0
    assert all("Retry-After" in o.headers for o in outcomes if o.status == 503)

    started = time.monotonic()
    down = burst([replica.url], key, 4)
    assert statuses(down) == {503: 4}
    assert time.monotonic() - started < 10  # fail fast, do not hang on a dead server

    postgres.start()
    deadline = time.monotonic() + 30
    while statuses(burst([replica.url], key, 1)) != {200: 1}:
        assert time.monotonic() < deadline, "the replica did not recover by itself"
        time.sleep(0.5)

    wait_until_no_reservation(postgres.url, key_id, TTL_SECONDS * 5 + 5)
    # Answers handed over as the database went away could not be charged: at most 4 in flight.
    assert_books_balance(postgres.url, key_id, counts.get(200, 0) + 1, may_be_free=4)


def test_redis_down_keeps_answering(replica: RunningServer, redis_server: OwnRedis) -> None:
    key = replica.create_key("limited")
    assert statuses(burst([replica.url], key, 3)) == {200: 3}
    redis_server.kill()
    assert statuses(burst([replica.url], key, 4)) == {200: 4}
    ready = httpx.get(replica.url + "/readyz", timeout=10)
    assert ready.status_code == 200
    assert "degraded" in ready.json()["shared_state"].values()
    assert "shared rate limit store failed" in replica.logs()
