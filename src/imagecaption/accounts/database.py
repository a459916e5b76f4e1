"""Engines and transactions that behave the same on SQLite and PostgreSQL.

Every write runs in a transaction that holds the write lock from its first statement: on
PostgreSQL that is what row locks already give; on SQLite it takes ``BEGIN IMMEDIATE`` (SQLAlchemy's
documented recipe of handing BEGIN over from the sqlite3 driver), so that concurrent writers,
threads or processes, queue on the busy timeout instead of failing with "database is locked" when
a read lock cannot be upgraded. Reads use a plain deferred ``BEGIN`` and never block writers (WAL).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

BUSY_TIMEOUT_SECONDS = 30
_READ_ONLY = "imagecaption_read_only"


def create_database_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    _create_parent_folder(parsed)
    engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_sqlite)
    return engine


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
    read_only = connection.get_execution_options().get(_READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """Commit on success, roll back on any exception."""
    with engine.begin() as connection:
        yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        connection.execution_options(**{_READ_ONLY: True})
        with connection.begin():
            yield connection
