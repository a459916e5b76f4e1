"""Under any concurrency a key never spends more than it has, and nothing is settled twice."""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from imagecaption.accounts.sql_store import SqlAccountStore
from imagecaption.errors import InsufficientCredits
from tests.accounts import workers
from tests.accounts.conftest import PLANS, TTL_SECONDS, Clock, StoreFactory

T = TypeVar("T")


def all_at_once(count: int, task: Callable[[int], T]) -> list[T | BaseException]:
    """Run ``task(i)`` in ``count`` threads released together; return results or errors."""
    start = threading.Barrier(count)

    def run(index: int) -> T | BaseException:
        start.wait()
        try:
            return task(index)
        except BaseException as error:
            return error

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_twenty_threads_on_seven_calls_of_credit(store: SqlAccountStore) -> None:
    _, record = store.create_key("tiny")
    outcomes = all_at_once(20, lambda _: store.reserve(record.id, 10))
    refused = [o for o in outcomes if isinstance(o, InsufficientCredits)]
    assert len(refused) == 13
    assert len(outcomes) - len(refused) == 7
    assert store.get_key(record.id).balance == 0


def test_processes_sharing_one_database_never_overspend(database_url: str) -> None:
    """Four server processes, ten calls each, credits for thirteen."""
    setup = SqlAccountStore(
        database_url, PLANS, reservation_ttl_seconds=TTL_SECONDS, warning_thresholds=[]
    )
    _, record = setup.create_key("thirteen")
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(4)
    charged: multiprocessing.Queue[int] = context.Queue()
    processes = [
        context.Process(target=workers.spend, args=(database_url, record.id, 10, start, charged))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    counts = [charged.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    after = setup.get_key(record.id)
    summary = setup.usage(record.id)
    setup.close()
    assert sum(counts) == 13
    assert (after.balance, after.used) == (0, 130)
    assert (summary.calls, summary.charged_calls, summary.credits) == (13, 13, 130)


def test_concurrent_janitors_and_releases_refund_each_reservation_once(
    make_store: StoreFactory, clock: Clock
) -> None:
    """Janitors in three processes expire the same reservations that callers release."""
    stores = [make_store() for _ in range(3)]
    _, record = stores[0].create_key("tiny")
    held = [stores[0].reserve(record.id, 10) for _ in range(6)]
    clock.advance(seconds=TTL_SECONDS)

    def settle(index: int) -> int:
        if index < len(held):
            stores[index % 3].release(held[index])
            return 0
        released: int = stores[index % 3].release_expired()
        return released

    outcomes = all_at_once(12, settle)
    assert all(isinstance(outcome, int) for outcome in outcomes), outcomes
    assert stores[0].get_key(record.id).balance == 70
    assert stores[0].release_expired() == 0


def test_concurrent_renewals_happen_once(
    store: SqlAccountStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="imagecaption.accounts")
    api_key, record = store.create_key("free")
    for _ in range(3):
        store.reserve(record.id, 10)
    clock.set(record.renews_at)

    def call(_: int) -> None:
        store.authenticate(api_key)
        store.reserve(record.id, 10)

    outcomes = all_at_once(10, call)
    assert outcomes == [None] * 10
    renewals = [r for r in caplog.records if r.getMessage().startswith("renewed key")]
    assert len(renewals) == 1
    after = store.get_key(record.id)
    assert (after.balance, after.allowance, after.used) == (900, 1_000, 0)
