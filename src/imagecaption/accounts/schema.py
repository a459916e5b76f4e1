"""Apply and check the account schema's Alembic migrations from code.

The migrations ship inside the package and no ``alembic.ini`` is needed: the server upgrades an
embedded SQLite database at start, and an operator of a shared PostgreSQL can upgrade it once,
on purpose, before rolling out new servers.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from imagecaption.accounts.database import (
    create_database_engine,
    read_transaction,
    write_transaction,
)

SCRIPT_LOCATION = "imagecaption.accounts:migrations"
# Any constant shared by every server; it names the PostgreSQL advisory lock below.
_MIGRATION_LOCK_ID = 7_491_116_532


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def upgrade_engine(engine: Engine) -> None:
    """Upgrade to the newest schema; safe when several processes start at once.

    The whole upgrade is one transaction. On SQLite its ``BEGIN IMMEDIATE`` already makes other
    upgraders wait; on PostgreSQL a transaction-scoped advisory lock does, and the later ones then
    find the schema current and do nothing.
    """
    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _MIGRATION_LOCK_ID}
            )
        command.upgrade(_config(connection), "head")


def upgrade_database(url: str) -> None:
    engine = create_database_engine(url)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()


def schema_is_current(url: str) -> bool:
    """True when the database is at the newest migration shipped with this version."""
    engine = create_database_engine(url)
    try:
        with read_transaction(engine) as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    return current == set(ScriptDirectory.from_config(_config()).get_heads())
