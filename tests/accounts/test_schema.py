"""The migrations create exactly the tables the store queries, and upgrades are safe to race."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from imagecaption.accounts.schema import schema_is_current, upgrade_database
from imagecaption.accounts.tables import metadata


def test_upgrade_creates_the_schema_once(empty_database_url: str) -> None:
    assert not schema_is_current(empty_database_url)
    upgrade_database(empty_database_url)
    assert schema_is_current(empty_database_url)
    upgrade_database(empty_database_url)  # a second start finds nothing to do
    engine = create_engine(empty_database_url)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        migration = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(migration, metadata)
    engine.dispose()
    assert {"api_keys", "reservations", "usage", "usage_warnings"} <= tables
    assert differences == []


def test_servers_starting_together_upgrade_once(empty_database_url: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def upgrade() -> None:
        start.wait()
        try:
            upgrade_database(empty_database_url)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=upgrade) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert schema_is_current(empty_database_url)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    upgrade_database(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()
