"""The account tables as SQLAlchemy Core objects: what the queries are written against.

The schema itself is created and changed only by the Alembic migrations next to this module; a
test checks that the migrations and these definitions agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the database keeps.

    SQLite stores no offset and hands back naive values; converting to UTC before every write also
    keeps SQLite's text timestamps comparable (and equal) as strings.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the account store; use an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
_Serial = BigInteger().with_variant(Integer(), "sqlite")

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("name", String(200)),
    Column("plan", String(64), nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("allowance", BigInteger, nullable=False),
    Column("used", BigInteger, nullable=False),
    Column("period_start", UtcDateTime, nullable=False),
    Column("renews_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("balance >= 0", name="balance_not_negative"),
)

reservations = Table(
    "reservations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("key_id", String(16), ForeignKey("api_keys.id"), nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("period_start", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

usage = Table(
    "usage",
    metadata,
    Column("id", _Serial, primary_key=True, autoincrement=True),
    Column("key_id", String(16), ForeignKey("api_keys.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("request_id", String(200)),
    Index(None, "key_id", "at"),
)

usage_warnings = Table(
    "usage_warnings",
    metadata,
    Column("key_id", String(16), ForeignKey("api_keys.id"), primary_key=True),
    Column("period_start", UtcDateTime, primary_key=True),
    Column("threshold", Float, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
)
