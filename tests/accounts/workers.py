"""Code run in child processes by the multi-process tests (spawned, so it must be importable)."""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from imagecaption.accounts.sql_store import SqlAccountStore
from imagecaption.errors import InsufficientCredits
from tests.accounts.conftest import PLANS, THRESHOLDS, TTL_SECONDS


def spend(url: str, key_id: str, attempts: int, start: Barrier, charged: Queue[int]) -> None:
    """Start a store as a server process would (migrations included), then race to spend."""
    store = SqlAccountStore(
        url, PLANS, reservation_ttl_seconds=TTL_SECONDS, warning_thresholds=THRESHOLDS
    )
    start.wait()
    count = 0
    for _ in range(attempts):
        try:
            reservation = store.reserve(key_id, 10)
        except InsufficientCredits:
            continue
        store.commit(reservation, status=200, latency_ms=1.0, request_id=None)
        count += 1
    store.close()
    charged.put(count)
