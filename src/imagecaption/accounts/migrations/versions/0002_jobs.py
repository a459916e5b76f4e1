"""Batch jobs: a job per submission and a row per image, with its state, lease and result.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _moment(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _count(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _count("total"),
        _count("pending"),
        _count("running"),
        _count("succeeded"),
        _count("failed"),
        _count("cancelled"),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        _moment("period_start"),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("callback_secret", sa.String(64), nullable=True),
        _count("callback_attempts"),
        _moment("callback_next_at", nullable=True),
        sa.Column("callback_status", sa.Integer(), nullable=True),
        _moment("callback_delivered_at", nullable=True),
        _moment("created_at"),
        _moment("last_claimed_at", nullable=True),
        _moment("finished_at", nullable=True),
        sa.CheckConstraint("held >= 0", name=op.f("ck_jobs_held_not_negative")),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name="fk_jobs_key_id_api_keys"),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_callback_next_at", "jobs", ["callback_next_at"])
    op.create_index("ix_jobs_key_id_created_at", "jobs", ["key_id", "created_at"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_table(
        "job_images",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lease", sa.String(32), nullable=True),
        _moment("lease_until", nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _moment("finished_at", nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_job_images_job_id_jobs"),
        sa.PrimaryKeyConstraint("job_id", "idx", name="pk_job_images"),
    )
    op.create_index("ix_job_images_job_id_state_idx", "job_images", ["job_id", "state", "idx"])
    op.create_index("ix_job_images_state_lease_until", "job_images", ["state", "lease_until"])


def downgrade() -> None:
    op.drop_index("ix_job_images_state_lease_until", table_name="job_images")
    op.drop_index("ix_job_images_job_id_state_idx", table_name="job_images")
    op.drop_table("job_images")
    op.drop_index("ix_jobs_status", table_name="jobs")
    op.drop_index("ix_jobs_key_id_created_at", table_name="jobs")
    op.drop_index("ix_jobs_callback_next_at", table_name="jobs")
    op.drop_table("jobs")
