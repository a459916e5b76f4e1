"""Engines and transactions that behave the same on SQLite and PostgreSQL.

Every write runs in a transaction that holds the write lock from its first statement: on
PostgreSQL that is what row locks already give; on SQLite it takes ``BEGIN IMMEDIATE`` (SQLAlchemy's
documented recipe of handing BEGIN over from the sqlite3 driver), so that concurrent writers,
threads or processes, queue on the busy timeout instead of failing with "database is locked" when
a read lock cannot be upgraded. Reads use a plain deferred ``BEGIN`` and never block writers (WAL).

Writers within one process do not take turns on a lock of their own before they begin, though
it was measured to save SQLite's busy handler's sleeps under load: a writer queued behind one
that waits out the busy timeout on a database locked by another process would wait for that
timeout and then its own, so a locked database answered 503 only after a multiple of it (or,
once the lock went, 200 after a minute), and worker threads piled up on the lock meanwhile.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from imagecaption.errors import Overloaded

log = logging.getLogger("imagecaption.accounts")

BUSY_TIMEOUT_SECONDS = 30
_READ_ONLY = "imagecaption_read_only"
# A server that does not answer must fail the call fast rather than hold a worker thread.
CONNECT_TIMEOUT_SECONDS = 3
UNAVAILABLE_RETRY_AFTER_SECONDS = 2


class DriverMissing(Exception):
    """The database URL names a database whose Python driver is not installed."""


class DatabaseUnavailable(Overloaded):
    """The account database could not be reached or written; its cause is the driver's error.

    A 503 with Retry-After for a client, logged with its cause by the server; the command line
    names the cause and the setting to fix instead (``storage``).
    """

    @property
    def cause(self) -> str:
        cause = self.__cause__
        return str(getattr(cause, "orig", None) or cause)


def create_database_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        timeout = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        connect_args = timeout if parsed.get_backend_name() == "postgresql" else {}
        try:
            return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
        except ImportError as error:
            raise DriverMissing(_missing_driver(parsed, error)) from error
    _create_parent_folder(parsed)
    engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_sqlite)
    return engine


def _missing_driver(url: URL, error: ImportError) -> str:
    if url.get_backend_name() == "postgresql":
        return (
            f"database_url names PostgreSQL, but its driver ({error.name}) is not installed: "
            "pip install 'imagecaption[postgres]'."
        )
    return f"database_url needs a driver that is not installed: {error}."


def _create_parent_folder(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not emit its own BEGIN; _begin_sqlite does. WAL lets readers run beside the
    # writer, and NORMAL sync is durable enough in WAL mode (a power cut may lose the last commit,
    # never corrupt the file).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
    _enable_wal(cursor)
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch a new database to WAL, waiting out other processes that open it at the same time.

    The switch needs the database to itself, and SQLite reports that it is busy at once instead of
    calling the busy handler, so this retries; once switched, the mode is stored in the file.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _begin_sqlite(connection: Connection) -> None:
    """BEGIN on the driver's cursor: through ``exec_driver_sql`` it cost more than the
    statements of a grouped credit write. A locked database raises here, after the busy
    timeout, as SQLAlchemy's ``OperationalError`` still (a 503)."""
    read_only = connection.get_execution_options().get(_READ_ONLY, False)
    statement = "BEGIN" if read_only else "BEGIN IMMEDIATE"
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection being begun is checked out
    try:
        driver.execute(statement).close()
    except sqlite3.Error as error:
        raise DBAPIError.instance(
            statement, None, error, sqlite3.Error, dialect=connection.dialect
        ) from error


@contextmanager
def database_errors_as_overloaded() -> Iterator[None]:
    """Turn a lost or unreachable database into a 503 with Retry-After, in this one place.

    A connection error is transient from a client's point of view: the call was not charged (the
    transaction rolled back or never began) and the pool's pre-ping reconnects once the server is
    back, so the honest answer is "retry shortly", not a 500.
    """
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        raise DatabaseUnavailable(
            "The account database is unavailable. Retry shortly.",
            retry_after=UNAVAILABLE_RETRY_AFTER_SECONDS,
        ) from error


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """Commit on success, roll back on any exception."""
    with database_errors_as_overloaded(), engine.begin() as connection:
        yield connection


class HeldConnection:
    """One connection kept by a thread that writes all the time (the credit ledger's), so that
    its transactions skip the pool's checkout and return (and the reset on return), which cost
    more than a grouped credit write's statements. Only on SQLite, whose file cannot go away
    under a connection; on a database server the pool's pre-ping still finds a connection the
    server dropped before a group is written, rather than failing the group. Not thread-safe:
    one per thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._holds = engine.dialect.name == "sqlite"
        self._connection: Connection | None = None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """``write_transaction``'s: commit on success, roll back on any exception."""
        if not self._holds:
            with write_transaction(self._engine) as connection:
                yield connection
            return
        with database_errors_as_overloaded():
            held = self._connection
            if held is None or held.closed or held.invalidated:
                self.close()
                held = self._connection = self._engine.connect()
            with held.begin():
                yield held

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    with database_errors_as_overloaded(), engine.connect() as connection:
        connection.execution_options(**{_READ_ONLY: True})
        with connection.begin():
            yield connection
