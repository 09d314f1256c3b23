"""Charts: studies over settings of one task variant, trained as population chunks.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

- charts: the parent work item (task variant, networks per setting, seed budget, chunk size,
  acceptance loss, training configuration, idempotency key) with the work lifecycle's columns.
- chart_settings: (architecture, units) per position and the seeds of its range handed out.
- chart_chunks: one row per training job that trains a piece of a setting's seed range; the
  (setting, range start) pair is unique, so a chunk is never created twice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
WORK_STATUSES = (
    "status IN ('queued', 'running', 'cancelling', 'cancelled', 'succeeded', "
    "'partially_succeeded', 'failed')"
)


def upgrade() -> None:
    op.create_table(
        "charts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(), nullable=False),
        sa.Column("task_parameters", JSON, nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("networks_per_setting", sa.Integer(), nullable=False),
        sa.Column("seed_budget", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("acceptance_loss", sa.Double(), nullable=False),
        sa.Column("training_config", JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("progress_fraction", sa.Double(), nullable=False),
        sa.Column("eta_at", TIMESTAMP, nullable=True),
        sa.Column("run_seconds", sa.Double(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(WORK_STATUSES, name=op.f("ck_charts_status")),
        sa.CheckConstraint(
            "networks_per_setting > 0 AND seed_budget >= networks_per_setting "
            "AND chunk_size > 0 AND acceptance_loss > 0",
            name=op.f("ck_charts_sizes"),
        ),
        sa.ForeignKeyConstraint(["task"], ["tasks.name"], name=op.f("fk_charts_task_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_charts_idempotency_key")),
    )
    op.create_index(op.f("ix_charts_status_id"), "charts", ["status", "id"])
    op.create_table(
        "chart_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chart_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("architecture", sa.String(length=16), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("seeds_used", sa.Integer(), nullable=False),
        sa.CheckConstraint("units > 0 AND seeds_used >= 0", name=op.f("ck_chart_settings_sizes")),
        sa.ForeignKeyConstraint(
            ["chart_id"],
            ["charts.id"],
            name=op.f("fk_chart_settings_chart_id_charts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chart_settings")),
        sa.UniqueConstraint("chart_id", "position", name=op.f("uq_chart_settings_chart_id_position")),
    )
    op.create_table(
        "chart_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chart_id", sa.Integer(), nullable=False),
        sa.Column("setting_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("first_seed_index", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chart_id"], ["charts.id"], name=op.f("fk_chart_chunks_chart_id_charts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["setting_id"],
            ["chart_settings.id"],
            name=op.f("fk_chart_chunks_setting_id_chart_settings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_chart_chunks_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chart_chunks")),
        sa.UniqueConstraint("job_id", name=op.f("uq_chart_chunks_job_id")),
        sa.UniqueConstraint(
            "setting_id", "first_seed_index", name=op.f("uq_chart_chunks_setting_id_first_seed_index")
        ),
    )
    op.create_index(op.f("ix_chart_chunks_chart_id"), "chart_chunks", ["chart_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_chart_chunks_chart_id"), table_name="chart_chunks")
    op.drop_table("chart_chunks")
    op.drop_table("chart_settings")
    op.drop_index(op.f("ix_charts_status_id"), table_name="charts")
    op.drop_table("charts")
