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
    Text,
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

# Batch jobs: a job holds its images' credits (``held``) from submission; each image's row and its
# charge or refund change in one transaction (see jobs/store.py). The counters on ``jobs`` are kept
# in the same transactions, so progress and the fair scheduler read one small row per job.
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("key_id", String(16), ForeignKey("api_keys.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("total", Integer, nullable=False),
    Column("pending", Integer, nullable=False),
    Column("running", Integer, nullable=False),
    Column("succeeded", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("cancelled", Integer, nullable=False),
    Column("cost", BigInteger, nullable=False),
    Column("held", BigInteger, nullable=False),
    Column("period_start", UtcDateTime, nullable=False),
    Column("options", Text, nullable=False),
    Column("callback_url", Text),
    Column("callback_secret", String(64)),
    Column("callback_attempts", Integer, nullable=False),
    Column("callback_next_at", UtcDateTime, index=True),
    Column("callback_status", Integer),
    Column("callback_delivered_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_claimed_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Index(None, "key_id", "created_at"),
    Index(None, "status"),
    CheckConstraint("held >= 0", name="held_not_negative"),
)

job_images = Table(
    "job_images",
    metadata,
    Column("job_id", String(32), ForeignKey("jobs.id"), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("source", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("lease", String(32)),
    Column("lease_until", UtcDateTime),
    Column("result", Text),
    Column("error", Text),
    Column("finished_at", UtcDateTime),
    Index(None, "job_id", "state", "idx"),
    Index(None, "state", "lease_until"),
)
