"""Analysis steps, solution types and two-neuron studies as jobs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-08

- limit_cycles: the period is interpolated (a float), and each cycle keeps its diameter and
  closing error.
- analysis_runs: a step that does not apply is `skipped`; each run keeps a JSON `summary` (or
  the reason it was skipped) and how long it computed (`duration_s`).
- solution_types: the canonical hash indexes types without identifying one (different graphs
  may share a hash), so its unique constraint becomes a plain index.
- two_neuron_studies: created queued and run by a worker: seed, status, attempts, progress,
  error and timestamps. Studies stored before this revision were complete: `succeeded`.
- two_neuron_networks: the regime read from the dynamics beside the eigenvalue-rule one.
- two_neuron_maps: the regime maps of a study as PNG bytes.

SQLite alters tables in batch mode (a copy), which is why every constraint has a name.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BLOB = sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)

RUN_STATUSES_BEFORE = "status IN ('running', 'succeeded', 'failed')"
RUN_STATUSES = "status IN ('running', 'succeeded', 'failed', 'skipped')"
STUDY_STATUSES = "status IN ('queued', 'running', 'succeeded', 'failed')"
DYNAMIC_REGIMES = "dynamic_regime IN ('limit_cycle', 'fixed_point', 'stable_origin', 'undetermined')"


def upgrade() -> None:
    with op.batch_alter_table("analysis_runs") as batch:
        batch.add_column(sa.Column("summary", JSON, nullable=True))
        batch.add_column(sa.Column("duration_s", sa.Double(), nullable=True))
        batch.drop_constraint(op.f("ck_analysis_runs_status"), type_="check")
        batch.create_check_constraint(op.f("ck_analysis_runs_status"), RUN_STATUSES)

    with op.batch_alter_table("limit_cycles") as batch:
        batch.alter_column("period", type_=sa.Double(), existing_nullable=False)
        for column in ("diameter", "closing_error"):
            batch.add_column(sa.Column(column, sa.Double(), nullable=False, server_default="0"))
    with op.batch_alter_table("limit_cycles") as batch:
        for column in ("diameter", "closing_error"):
            batch.alter_column(column, server_default=None)

    with op.batch_alter_table("solution_types") as batch:
        batch.drop_constraint(op.f("uq_solution_types_task_canonical_hash"), type_="unique")
        batch.create_index(
            op.f("ix_solution_types_task_canonical_hash"), ["task", "canonical_hash"]
        )

    with op.batch_alter_table("two_neuron_studies") as batch:
        batch.add_column(sa.Column("seed", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="succeeded")
        )
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("progress", JSON, nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("started_at", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("finished_at", TIMESTAMP, nullable=True))
        batch.create_check_constraint(op.f("ck_two_neuron_studies_status"), STUDY_STATUSES)
    # The server defaults only filled the rows already there; the models set these values.
    with op.batch_alter_table("two_neuron_studies") as batch:
        for column in ("seed", "status", "attempts"):
            batch.alter_column(column, server_default=None)

    with op.batch_alter_table("two_neuron_networks") as batch:
        batch.add_column(sa.Column("dynamic_regime", sa.String(length=16), nullable=True))
        batch.create_check_constraint(
            op.f("ck_two_neuron_networks_dynamic_regime"), DYNAMIC_REGIMES
        )

    op.create_table(
        "two_neuron_maps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("png", BLOB, nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["two_neuron_studies.id"],
            name=op.f("fk_two_neuron_maps_study_id_two_neuron_studies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_two_neuron_maps")),
        sa.UniqueConstraint("study_id", "name", name=op.f("uq_two_neuron_maps_study_id_name")),
    )


def downgrade() -> None:
    """Back to 0001. Skipped runs become failed ones (0001 knows no `skipped`); a bucket holding
    several types keeps its oldest, the others' networks lose their type."""
    op.drop_table("two_neuron_maps")

    with op.batch_alter_table("two_neuron_networks") as batch:
        batch.drop_constraint(op.f("ck_two_neuron_networks_dynamic_regime"), type_="check")
        batch.drop_column("dynamic_regime")

    with op.batch_alter_table("two_neuron_studies") as batch:
        batch.drop_constraint(op.f("ck_two_neuron_studies_status"), type_="check")
        for column in ("finished_at", "started_at", "error", "progress", "attempts", "status"):
            batch.drop_column(column)
        batch.drop_column("seed")

    oldest = "SELECT MIN(id) FROM solution_types GROUP BY task, canonical_hash"
    op.execute(f"UPDATE networks SET solution_type_id = NULL WHERE solution_type_id NOT IN ({oldest})")
    op.execute(f"DELETE FROM solution_types WHERE id NOT IN ({oldest})")
    with op.batch_alter_table("solution_types") as batch:
        batch.drop_index(op.f("ix_solution_types_task_canonical_hash"))
        batch.create_unique_constraint(
            op.f("uq_solution_types_task_canonical_hash"), ["task", "canonical_hash"]
        )

    with op.batch_alter_table("limit_cycles") as batch:
        batch.drop_column("closing_error")
        batch.drop_column("diameter")
        batch.alter_column(
            "period",
            type_=sa.Integer(),
            existing_nullable=False,
            postgresql_using="round(period)::integer",
        )

    op.execute("UPDATE analysis_runs SET status = 'failed' WHERE status = 'skipped'")
    with op.batch_alter_table("analysis_runs") as batch:
        batch.drop_constraint(op.f("ck_analysis_runs_status"), type_="check")
        batch.create_check_constraint(op.f("ck_analysis_runs_status"), RUN_STATUSES_BEFORE)
        batch.drop_column("duration_s")
        batch.drop_column("summary")
