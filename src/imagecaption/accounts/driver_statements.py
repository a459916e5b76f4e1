"""The five credit statements every paid call runs, sent through the database driver itself.

Each call reserves and is charged; grouped (``SqlAccountStore.write_together``) that is, per
group, a debit, an insert of reservations, a delete of the settled ones, a count of credits used
and an insert of usage rows. Through SQLAlchemy's Core, building each execution (its context,
bound values through each column's type, result rows) cost about five times the database's own
work, on the one thread that holds the interpreter lock while the event loop waits for it. Here
the same statements are plain SQL, run on the cursor of the connection SQLAlchemy checked out,
inside its transaction, with times converted once by hand.

Only the two drivers the service supports take this path (``sqlite3`` and ``psycopg``); the
statements are the same SQL on both. Times go in and come out as the ``UtcDateTime`` column type
would have them: aware UTC datetimes, stored by SQLite as the text SQLAlchemy writes (so that
they still compare as strings) and by PostgreSQL as ``timestamptz``. Driver errors are raised as
SQLAlchemy's, as they were, so that callers tell an unavailable database from a refused write
the same way.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
"""How SQLAlchemy's SQLite dialect stores a datetime (always with microseconds)."""


class KeyRow(NamedTuple):
    """A row of ``api_keys``, with the fields SQLAlchemy's rows have."""

    id: str
    key_hash: str
    name: str | None
    plan: str
    balance: int
    allowance: int
    used: int
    period_start: datetime
    renews_at: datetime
    revoked_at: datetime | None
    created_at: datetime


class HeldRow(NamedTuple):
    """A reservation taken (deleted) to be charged or released."""

    id: str
    key_id: str
    credits: int
    period_start: datetime


_DEBIT_CURRENT = (
    "UPDATE api_keys SET balance = balance - :credits WHERE id = :key_id "
    "AND balance >= :credits AND revoked_at IS NULL AND renews_at > :now "
    "RETURNING id, key_hash, name, plan, balance, allowance, used, period_start, renews_at, "
    "revoked_at, created_at"
)
_COUNT_USED = (
    "UPDATE api_keys SET used = used + :credits WHERE id = :key_id AND period_start = :period "
    "RETURNING id, key_hash, name, plan, balance, allowance, used, period_start, renews_at, "
    "revoked_at, created_at"
)
_INSERT_RESERVATION = (
    "INSERT INTO reservations (id, key_id, credits, period_start, created_at, expires_at) "
    "VALUES (:id, :key_id, :credits, :period_start, :created_at, :expires_at)"
)
_INSERT_USAGE = (
    "INSERT INTO usage (key_id, at, status, latency_ms, credits, request_id) "
    "VALUES (:key_id, :at, :status, :latency_ms, :credits, :request_id)"
)
_TAKE_RESERVATIONS = (
    "DELETE FROM reservations WHERE id IN ({ids}) RETURNING id, key_id, credits, period_start"
)
_NAMED = re.compile(r":(\w+)")
_TIMES = frozenset({"period_start", "created_at", "expires_at", "at"})


def supported(dialect: Dialect) -> bool:
    return (dialect.name, dialect.driver) in (("sqlite", "pysqlite"), ("postgresql", "psycopg"))


class DriverStatements:
    """The statements in the driver's own parameter style, for one database engine's dialect."""

    def __init__(self, dialect: Dialect) -> None:
        if not supported(dialect):
            raise ValueError(f"no driver statements for {dialect.name}+{dialect.driver}")
        self._dialect = dialect
        self._sqlite = dialect.name == "sqlite"
        # sqlite3 takes ``:name``; psycopg takes ``%(name)s``.
        self._style = _same if self._sqlite else _pyformat

    def time(self, value: datetime) -> Any:
        """A datetime as the driver should be given it (``UtcDateTime``'s bind, then the
        dialect's)."""
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the account store; use an aware one")
        utc = value.astimezone(UTC)
        return utc.strftime(_SQLITE_TIME) if self._sqlite else utc

    @staticmethod
    def _from_database(value: str | datetime) -> datetime:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value  # SQLite: text
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def _key_row(self, rows: list[Any]) -> KeyRow | None:
        if not rows:
            return None
        (key_id, key_hash, name, plan, balance, allowance, used, period_start, renews_at) = rows[0][
            :9
        ]
        revoked_at, created_at = rows[0][9:]
        moment = self._from_database
        return KeyRow(
            key_id,
            key_hash,
            name,
            plan,
            balance,
            allowance,
            used,
            moment(period_start),
            moment(renews_at),
            None if revoked_at is None else moment(revoked_at),
            moment(created_at),
        )

    def debit_current(
        self, connection: Connection, key_id: str, credits: int, now: datetime
    ) -> KeyRow | None:
        """Take ``credits`` from a live key whose period is current and whose balance covers
        them; None if any of that is not so."""
        params = {"key_id": key_id, "credits": credits, "now": self.time(now)}
        return self._key_row(self._run(connection, _DEBIT_CURRENT, params))

    def count_used(
        self, connection: Connection, key_id: str, period: datetime, credits: int
    ) -> KeyRow | None:
        """Count ``credits`` as used in ``period``; None if the key has renewed since."""
        params = {"key_id": key_id, "credits": credits, "period": self.time(period)}
        return self._key_row(self._run(connection, _COUNT_USED, params))

    def take_reservations(self, connection: Connection, ids: Sequence[str]) -> list[HeldRow]:
        """Delete the reservations and return those that were there."""
        names = [f"id{index}" for index in range(len(ids))]
        sql = _TAKE_RESERVATIONS.format(ids=", ".join(f":{name}" for name in names))
        rows = self._run(connection, sql, dict(zip(names, ids, strict=True)))
        return [
            HeldRow(held_id, key_id, credits, self._from_database(period_start))
            for held_id, key_id, credits, period_start in rows
        ]

    def insert_reservations(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        self._run_many(connection, _INSERT_RESERVATION, rows)

    def insert_usage(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        self._run_many(connection, _INSERT_USAGE, rows)

    def _run(self, connection: Connection, sql: str, params: dict[str, Any]) -> list[Any]:
        cursor = connection.connection.cursor()
        try:
            with self._as_sqlalchemy_errors(sql, params):
                cursor.execute(self._style(sql), params)
                return list(cursor.fetchall())
        finally:
            cursor.close()

    def _run_many(self, connection: Connection, sql: str, rows: list[dict[str, Any]]) -> None:
        # A group's rows share a few times (now, its expiry, a period's start): each is
        # converted once.
        times: dict[datetime, Any] = {}

        def stored(value: datetime) -> Any:
            converted = times.get(value)
            if converted is None:
                converted = times[value] = self.time(value)
            return converted

        converted = [
            {name: stored(value) if name in _TIMES else value for name, value in row.items()}
            for row in rows
        ]
        cursor = connection.connection.cursor()
        try:
            with self._as_sqlalchemy_errors(sql, converted):
                cursor.executemany(self._style(sql), converted)
        finally:
            cursor.close()

    @contextmanager
    def _as_sqlalchemy_errors(self, sql: str, params: Any) -> Iterator[None]:
        """Raise a driver's error as the SQLAlchemy error it would have been
        (``OperationalError`` for a locked or lost database, ``IntegrityError``...), with the
        driver's as ``orig``."""
        dbapi_error = self._dialect.loaded_dbapi.Error
        try:
            yield
        except dbapi_error as error:
            raise DBAPIError.instance(
                sql, params, error, dbapi_error, dialect=self._dialect
            ) from error


@functools.lru_cache(maxsize=512)
def _pyformat(sql: str) -> str:
    return _NAMED.sub(r"%(\1)s", sql)


def _same(sql: str) -> str:
    return sql
