"""Writes run together in one transaction (``write_together``) end as they would one by one."""

from __future__ import annotations

import logging

import pytest

from imagecaption.accounts.sql_store import SqlAccountStore
from imagecaption.accounts.store import Reservation
from imagecaption.accounts.writes import Charge, RecordCall, Release, Reserve
from imagecaption.errors import InsufficientCredits, Unauthorized
from tests.accounts.conftest import TTL_SECONDS, Clock

COST = 10


def test_reservations_of_one_key_together_report_balances_as_if_one_after_another(
    store: SqlAccountStore,
) -> None:
    _, record = store.create_key("tiny")  # 70 credits
    outcomes = store.write_together([Reserve(record.id, COST) for _ in range(3)])
    assert all(isinstance(outcome, Reservation) for outcome in outcomes)
    assert sorted(outcome.key.balance for outcome in outcomes) == [40, 50, 60]
    assert len({outcome.id for outcome in outcomes}) == 3
    assert store.get_key(record.id).balance == 40


def test_more_reservations_than_the_balance_covers_are_refused_one_by_one(
    store: SqlAccountStore,
) -> None:
    _, record = store.create_key("tiny")  # 7 calls
    outcomes = store.write_together([Reserve(record.id, COST) for _ in range(10)])
    granted = [outcome for outcome in outcomes if isinstance(outcome, Reservation)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, InsufficientCredits)]
    assert (len(granted), len(refused)) == (7, 3)
    assert store.get_key(record.id).balance == 0
    charged = store.write_together([Charge(r, 200, 1.0, None) for r in granted])
    assert [record.used for record in charged] == [70] * 7
    after = store.get_key(record.id)
    assert (after.balance, after.used) == (0, 70)
    assert store.usage(record.id).charged_calls == 7


def test_mixed_writes_of_several_keys_settle_each_exactly_once(store: SqlAccountStore) -> None:
    _, first = store.create_key("tiny")
    _, second = store.create_key("tiny")
    _, revoked = store.create_key("tiny")
    store.revoke(revoked.id)
    held = [store.reserve(first.id, COST) for _ in range(3)]
    outcomes = store.write_together(
        [
            Charge(held[0], 200, 3.0, "a"),
            Release(held[1]),
            Charge(held[2], 200, 4.0, "b"),
            Release(held[2]),  # already charged in this very group: nothing to refund
            Reserve(second.id, COST),
            Reserve(revoked.id, COST),
            RecordCall(second.id, 400, 1.0, "c"),
        ]
    )
    assert isinstance(outcomes[4], Reservation)
    assert isinstance(outcomes[5], Unauthorized)
    assert (store.get_key(first.id).balance, store.get_key(first.id).used) == (50, 20)
    assert store.get_key(second.id).balance == 60
    assert store.get_key(revoked.id).balance == 70
    assert store.usage(first.id).by_status == {200: 2}
    assert store.usage(second.id).by_status == {400: 1}


def test_a_charge_whose_reservation_expired_is_charged_afresh_in_a_group(
    store: SqlAccountStore, clock: Clock
) -> None:
    _, record = store.create_key("tiny")
    late, current = store.reserve(record.id, COST), None
    clock.advance(seconds=TTL_SECONDS)
    assert store.release_expired() == 1
    current = store.reserve(record.id, COST)
    store.write_together([Charge(late, 200, 1.0, None), Charge(current, 200, 1.0, None)])
    after = store.get_key(record.id)
    assert (after.balance, after.used) == (50, 20)


def test_a_group_crossing_a_threshold_warns_once(
    store: SqlAccountStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="imagecaption.accounts")
    _, record = store.create_key("warn")  # 100 credits: 80% at the 8th call, 95% at the 10th
    held = store.write_together([Reserve(record.id, COST) for _ in range(10)])
    store.write_together([Charge(r, 200, 1.0, None) for r in held])
    assert [w.threshold for w in store.warnings(record.id)] == [0.8, 0.95]
    messages = [r.getMessage() for r in caplog.records if r.name == "imagecaption.accounts"]
    assert len(messages) == 2


def test_a_kept_connection_writes_as_the_pool_does_and_survives_a_failed_group(
    store: SqlAccountStore,
) -> None:
    """The ledger's writer keeps one connection (SQLite; the pool elsewhere): a group that
    fails rolls back alone, and the next group on the same connection commits."""
    _, record = store.create_key("tiny")  # 70 credits
    kept = store.held_connection()

    def failing_group() -> None:
        with kept.transaction() as connection:
            store._statements.debit_current(connection, record.id, COST, store.now())
            raise RuntimeError("a fault after a statement of the group")

    try:
        granted = store.write_together([Reserve(record.id, COST) for _ in range(2)], kept)
        with pytest.raises(RuntimeError):
            failing_group()
        assert store.get_key(record.id).balance == 50  # the failed group's debit rolled back
        charged = store.write_together([Charge(r, 200, 1.0, None) for r in granted], kept)
        assert [c.used for c in charged] == [20, 20]
    finally:
        kept.close()
    after = store.get_key(record.id)
    assert (after.balance, after.used) == (50, 20)
    assert store.usage(record.id).charged_calls == 2
