"""One lifecycle of work, its progress, and training snapshots to resume from.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

- jobs, two_neuron_studies: the statuses of atlas.store.work_status (cancelling, cancelled,
  partially_succeeded added; the column widened to 24 characters), `progress_fraction` (share
  of the work done), `eta_at` (expected end) and `run_seconds` (time run over all attempts).
- training_snapshots: one blob per job, the whole training state at the end of an epoch.

The status values are spelled out here, not imported, so this revision never changes.
Downgrading maps the new statuses to the old ones: cancelling -> running, cancelled and
partially_succeeded -> failed and succeeded.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BLOB = sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
WORK_TABLES = ("jobs", "two_neuron_studies")
STATUSES_BEFORE = "status IN ('queued', 'running', 'succeeded', 'failed')"
STATUSES = (
    "status IN ('queued', 'running', 'cancelling', 'cancelled', 'succeeded', "
    "'partially_succeeded', 'failed')"
)
DOWNGRADED = {
    "cancelling": "running",
    "cancelled": "failed",
    "partially_succeeded": "succeeded",
}


def upgrade() -> None:
    for table in WORK_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_status"), type_="check")
            batch.alter_column(
                "status",
                type_=sa.String(length=24),
                existing_type=sa.String(length=16),
                existing_nullable=False,
            )
            batch.add_column(
                sa.Column("progress_fraction", sa.Double(), nullable=False, server_default="0")
            )
            batch.add_column(sa.Column("eta_at", TIMESTAMP, nullable=True))
            batch.add_column(
                sa.Column("run_seconds", sa.Double(), nullable=False, server_default="0")
            )
            batch.create_check_constraint(op.f(f"ck_{table}_status"), STATUSES)
        op.execute(f"UPDATE {table} SET progress_fraction = 1 WHERE status = 'succeeded'")
        with op.batch_alter_table(table) as batch:
            batch.alter_column("progress_fraction", server_default=None)
            batch.alter_column("run_seconds", server_default=None)
    op.create_table(
        "training_snapshots",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("payload", BLOB, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_training_snapshots_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_training_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("training_snapshots")
    for table in WORK_TABLES:
        for new, old in DOWNGRADED.items():
            op.execute(f"UPDATE {table} SET status = '{old}' WHERE status = '{new}'")
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_status"), type_="check")
            batch.drop_column("run_seconds")
            batch.drop_column("eta_at")
            batch.drop_column("progress_fraction")
            batch.alter_column(
                "status",
                type_=sa.String(length=16),
                existing_type=sa.String(length=24),
                existing_nullable=False,
            )
            batch.create_check_constraint(op.f(f"ck_{table}_status"), STATUSES_BEFORE)
