"""The credit statements sent through the driver (``driver_statements``) write and read exactly
what SQLAlchemy's Core did: the same rows, stored the same way (SQLite keeps times as text,
compared as strings), the same records back, and the driver's errors as SQLAlchemy's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from imagecaption.accounts.driver_statements import DriverStatements
from imagecaption.accounts.sql_store import CoreStatements, SqlAccountStore
from imagecaption.accounts.store import KeyRecord, Reservation
from imagecaption.accounts.writes import Charge, Reserve
from tests.accounts.conftest import Clock, StoreFactory

START = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)  # microseconds stored too

STORED = {  # the columns that are not random ids, as the database holds them
    "api_keys": "plan, balance, allowance, used, period_start, renews_at, revoked_at, created_at",
    "reservations": "credits, period_start, created_at, expires_at",
    "usage": "at, status, latency_ms, credits, request_id",
}


def _a_key_s_life(store: SqlAccountStore, clock: Clock) -> list[list[Any]]:
    """Reservations, charges, a renewal, a charge of the old period after it, and a refused
    reservation, through the grouped writes; their outcomes without random ids."""
    clock.set(START)
    _, key = store.create_key("tiny")  # 70 credits
    reserved = store.write_together([Reserve(key.id, 10) for _ in range(3)])
    clock.advance(seconds=1.25)
    charged = store.write_together([Charge(r, 200, 12.5, "req-1") for r in reserved[:2]])
    clock.advance(days=32)  # renewed: the third reservation belongs to the old period
    late = store.write_together([Charge(reserved[2], 200, 3.0, None), Reserve(key.id, 80)])
    return [[_plain(outcome) for outcome in group] for group in (reserved, charged, late)]


def _plain(outcome: Any) -> Any:
    if isinstance(outcome, Reservation):
        return ("reservation", outcome.credits, _plain(outcome.key))
    if isinstance(outcome, KeyRecord):
        return (outcome.balance, outcome.used, outcome.period_start, outcome.renews_at)
    return type(outcome).__name__


def _stored(store: SqlAccountStore) -> dict[str, list[tuple[Any, ...]]]:
    with store._engine.connect() as connection:
        return {
            table: sorted(
                tuple(row) for row in connection.execute(text(f"SELECT {columns} FROM {table}"))
            )
            for table, columns in STORED.items()
        }


def _emptied(store: SqlAccountStore) -> SqlAccountStore:
    with store._engine.begin() as connection:
        for table in ("usage", "reservations", "api_keys"):
            connection.execute(text(f"DELETE FROM {table}"))
    return store


def test_the_driver_path_writes_and_reads_what_sqlalchemy_did(
    make_store: StoreFactory, clock: Clock
) -> None:
    through_driver = make_store()
    assert isinstance(through_driver._statements, DriverStatements)  # both databases take it
    driver_outcomes = _a_key_s_life(through_driver, clock)
    driver_rows = _stored(through_driver)

    through_core = _emptied(make_store())
    through_core._statements = CoreStatements()  # SQLAlchemy's path, as for other drivers
    core_outcomes = _a_key_s_life(through_core, clock)

    assert driver_outcomes == core_outcomes
    assert driver_outcomes[2][1] == "InsufficientCredits"
    assert driver_rows == _stored(through_core)
    assert len(driver_rows["usage"]) == 3


def test_a_driver_error_is_raised_as_sqlalchemy_s(make_store: StoreFactory) -> None:
    store = make_store()
    _, key = store.create_key("pro")
    driver = store._statements
    assert isinstance(driver, DriverStatements)
    row = {
        "id": "r" * 32,
        "key_id": key.id,
        "credits": 10,
        "period_start": START,
        "created_at": START,
        "expires_at": START,
    }
    with pytest.raises(IntegrityError) as raised, store._engine.begin() as connection:
        driver.insert_reservations(connection, [row, row])
    assert raised.value.orig is raised.value.__cause__
