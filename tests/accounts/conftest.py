"""Every store test runs on SQLite and on PostgreSQL: the same code must hold on both.

PostgreSQL tests use a throw-away database created for the session on the local server; they are
skipped, with the reason shown, only when no server answers.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from imagecaption.accounts.schema import upgrade_database
from imagecaption.accounts.sql_store import SqlAccountStore
from imagecaption.accounts.tables import metadata
from imagecaption.settings import Plan

# Any database on a server where the user may create databases; CI can point elsewhere.
POSTGRES_ADMIN_URL = os.environ.get(
    "IMAGECAPTION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TTL_SECONDS = 120
THRESHOLDS = [0.8, 0.95]
PLANS = {
    "free": Plan(monthly_credits=1_000, signup_bonus=500, requests_per_minute=30),
    "pro": Plan(monthly_credits=1_000_000),
    "tiny": Plan(monthly_credits=70),  # exactly 7 calls at 10 credits
    "warn": Plan(monthly_credits=100),  # 10 calls: the 8th reaches 80%, the 10th 95%
    "thirteen": Plan(monthly_credits=130),
}


class Clock:
    """An injectable clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta: float) -> None:
        with self._lock:
            self.now += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        with self._lock:
            self.now = moment


@contextmanager
def scratch_postgres_database() -> Iterator[str]:
    """Create an empty database on the local server and drop it afterwards."""
    admin = create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    name = f"imagecaption_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable: {error.orig}")
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that does not exist yet (SQLite: not even its folder), dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'not' / 'yet' / 'there.db'}"
        return
    with scratch_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One migrated database for the whole session; each test empties it first."""
    with scratch_postgres_database() as url:
        upgrade_database(url)
        yield url


def _empty_tables(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'accounts.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _empty_tables(url)
    return url


@pytest.fixture
def clock() -> Clock:
    return Clock()


StoreFactory = Callable[..., SqlAccountStore]


@pytest.fixture
def make_store(database_url: str, clock: Clock) -> Iterator[StoreFactory]:
    """Build stores on the test's database; several may share it, as several processes would."""
    stores: list[SqlAccountStore] = []

    def make(**overrides: Any) -> SqlAccountStore:
        options: dict[str, Any] = {
            "reservation_ttl_seconds": TTL_SECONDS,
            "warning_thresholds": THRESHOLDS,
            "clock": clock,
        }
        options.update(overrides)
        store = SqlAccountStore(database_url, PLANS, **options)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> SqlAccountStore:
    return make_store()
