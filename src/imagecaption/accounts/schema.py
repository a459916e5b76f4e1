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
from sqlalchemy.engine import make_url

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


def schema_revisions(url: str) -> tuple[set[str], set[str]]:
    """The database's applied migration heads and the heads shipped with this version."""
    engine = create_database_engine(url)
    try:
        with read_transaction(engine) as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    return current, set(ScriptDirectory.from_config(_config()).get_heads())


def schema_is_current(url: str) -> bool:
    """True when the database is at the newest migration shipped with this version."""
    current, shipped = schema_revisions(url)
    return current == shipped


def migrates_itself(url: str) -> bool:
    """An embedded SQLite file belongs to one server, which may upgrade it without asking."""
    return make_url(url).get_backend_name() == "sqlite"


class SchemaOutdated(Exception):
    """A shared database is behind this version and nobody asked to upgrade it."""


def prepare_schema(url: str, *, migrate: bool) -> None:
    """Upgrade the schema when allowed, else refuse to run on an outdated shared one.

    A server must not silently alter a database that older replicas still use: on PostgreSQL the
    upgrade happens only when the operator asked for it (``--migrate``, ``auto_migrate``).
    """
    if migrate or migrates_itself(url):
        upgrade_database(url)
        return
    current, shipped = schema_revisions(url)
    if current != shipped:
        raise SchemaOutdated(
            f"The account database schema is at {sorted(current) or 'no revision'}, this version "
            f"needs {sorted(shipped)}. Run 'imagecaption db upgrade' once, or start the server "
            "with --migrate (or auto_migrate=true)."
        )
