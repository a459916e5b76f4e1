"""The ledger's writer thread: concurrent calls' writes, grouped, leave the books exact."""

from __future__ import annotations

import asyncio

import pytest

from imagecaption.accounts.database import DatabaseUnavailable
from imagecaption.accounts.ledger import Ledger
from imagecaption.accounts.sql_store import SqlAccountStore
from imagecaption.errors import InsufficientCredits
from tests.accounts.conftest import StoreFactory

COST = 10


async def _call(ledger: Ledger, key_id: str) -> int:
    """A paid call as the API makes it: reserve, then charge without waiting for the charge."""
    try:
        reservation = await ledger.reserve(key_id, COST)
    except InsufficientCredits:
        return 403
    await asyncio.sleep(0)
    ledger.charge(reservation, status=200, latency_ms=1.0, request_id=None)
    return 200


async def test_concurrent_calls_spend_exactly_the_balance(store: SqlAccountStore) -> None:
    _, record = store.create_key("thirteen")  # 13 calls
    ledger = Ledger(store)
    try:
        codes = await asyncio.gather(*(_call(ledger, record.id) for _ in range(40)))
    finally:
        await ledger.aclose()  # runs the charges still waiting
    assert (codes.count(200), codes.count(403)) == (13, 27)
    after = store.get_key(record.id)
    assert (after.balance, after.used) == (0, 130)
    assert store.usage(record.id).charged_calls == 13


async def test_two_ledgers_on_one_database_never_overspend(make_store: StoreFactory) -> None:
    """As two server processes would: each its own writer, one database."""
    first, second = make_store(), make_store()
    _, record = first.create_key("tiny")  # 7 calls
    ledgers = [Ledger(first), Ledger(second)]
    try:
        codes = await asyncio.gather(*(_call(ledgers[i % 2], record.id) for i in range(30)))
    finally:
        for ledger in ledgers:
            await ledger.aclose()
    assert codes.count(200) == 7
    after = first.get_key(record.id)
    assert (after.balance, after.used) == (0, 70)


async def test_an_unavailable_database_fails_the_waiting_writes_with_503(
    store: SqlAccountStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, record = store.create_key("tiny")
    ledger = Ledger(store)

    def unavailable(_writes: object, _held: object = None) -> list[object]:
        raise DatabaseUnavailable("The account database is unavailable. Retry shortly.")

    monkeypatch.setattr(store, "write_together", unavailable)
    try:
        results = await asyncio.gather(
            *(ledger.reserve(record.id, COST) for _ in range(5)), return_exceptions=True
        )
    finally:
        monkeypatch.undo()
        await ledger.aclose()
    assert all(isinstance(result, DatabaseUnavailable) for result in results)
    assert store.get_key(record.id).balance == 70


async def test_a_group_that_fails_otherwise_is_retried_write_by_write(
    store: SqlAccountStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One bad write (here: any group of more than one) does not fail the others."""
    _, record = store.create_key("tiny")
    ledger = Ledger(store)
    alone = store.write_together

    def only_alone(writes: list[object], held: object = None) -> list[object]:
        if len(writes) > 1:
            raise RuntimeError("a fault in one write of the group")
        return alone(writes, held)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "write_together", only_alone)
    try:
        held = await asyncio.gather(*(ledger.reserve(record.id, COST) for _ in range(3)))
    finally:
        monkeypatch.undo()
        await ledger.aclose()
    assert len({reservation.id for reservation in held}) == 3
    assert store.get_key(record.id).balance == 40
