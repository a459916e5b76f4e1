"""Initial account schema: keys, credit reservations, usage and usage warnings.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _moment(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("plan", sa.String(64), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("allowance", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        _moment("period_start"),
        _moment("renews_at"),
        _moment("revoked_at", nullable=True),
        _moment("created_at"),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_api_keys_balance_not_negative")),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        _moment("period_start"),
        _moment("created_at"),
        _moment("expires_at"),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name="fk_reservations_key_id_api_keys"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reservations"),
    )
    op.create_index("ix_reservations_expires_at", "reservations", ["expires_at"])
    op.create_table(
        "usage",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key_id", sa.String(16), nullable=False),
        _moment("at"),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name="fk_usage_key_id_api_keys"),
        sa.PrimaryKeyConstraint("id", name="pk_usage"),
    )
    op.create_index("ix_usage_at", "usage", ["at"])
    op.create_index("ix_usage_key_id_at", "usage", ["key_id", "at"])
    op.create_table(
        "usage_warnings",
        sa.Column("key_id", sa.String(16), nullable=False),
        _moment("period_start"),
        sa.Column("threshold", sa.Float(), nullable=False),
        _moment("at"),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name="fk_usage_warnings_key_id_api_keys"
        ),
        sa.PrimaryKeyConstraint("key_id", "period_start", "threshold", name="pk_usage_warnings"),
    )


def downgrade() -> None:
    op.drop_table("usage_warnings")
    op.drop_index("ix_usage_key_id_at", table_name="usage")
    op.drop_index("ix_usage_at", table_name="usage")
    op.drop_table("usage")
    op.drop_index("ix_reservations_expires_at", table_name="reservations")
    op.drop_table("reservations")
    op.drop_table("api_keys")
