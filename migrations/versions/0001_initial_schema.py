"""Initial schema: tasks, jobs, networks, checkpoints, analysis results, solution types, two-neuron.

Revision ID: 0001
Revises:
Create Date: 2026-05-01

Written from the autogenerate output and reviewed by hand: every constraint is named (the
models' naming convention) so that later batch migrations on SQLite can find it, status
columns are CHECK-constrained strings (no PostgreSQL ENUM types to create and drop), and the
values are spelled out here rather than imported, so this revision never changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BLOB = sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _network_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["network_id"],
        ["networks.id"],
        name=op.f(f"fk_{table}_network_id_networks"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("long_name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("parameters", JSON, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tasks")),
    )
    op.create_table(
        "jobs",
        _id(),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("task_parameters", JSON, nullable=False),
        sa.Column("architecture", sa.String(length=16), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("training_config", JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("max_epochs", sa.Integer(), nullable=False),
        sa.Column("n_active", sa.Integer(), nullable=False),
        sa.Column("n_converged", sa.Integer(), nullable=False),
        sa.Column("n_failed", sa.Integer(), nullable=False),
        sa.Column("n_saved", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f("ck_jobs_status")
        ),
        sa.CheckConstraint("units > 0 AND count > 0", name=op.f("ck_jobs_sizes")),
        sa.ForeignKeyConstraint(["task"], ["tasks.name"], name=op.f("fk_jobs_task_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_jobs_idempotency_key")),
    )
    op.create_index(op.f("ix_jobs_status_id"), "jobs", ["status", "id"])

    op.create_table(
        "solution_types",
        _id(),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("canonical_hash", sa.String(length=128), nullable=False),
        sa.Column("graph", JSON, nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["task"], ["tasks.name"], name=op.f("fk_solution_types_task_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_solution_types")),
        sa.UniqueConstraint(
            "task", "canonical_hash", name=op.f("uq_solution_types_task_canonical_hash")
        ),
        sa.UniqueConstraint("task", "name", name=op.f("uq_solution_types_task_name")),
    )

    op.create_table(
        "networks",
        _id(),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("task_parameters", JSON, nullable=False),
        sa.Column("architecture", sa.String(length=16), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("n_inputs", sa.Integer(), nullable=False),
        sa.Column("n_outputs", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("info", JSON, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("index_in_job", sa.Integer(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("epochs", sa.Integer(), nullable=True),
        sa.Column("steps", sa.Integer(), nullable=True),
        sa.Column("best_loss", sa.Double(), nullable=True),
        sa.Column("final_loss", sa.Double(), nullable=True),
        sa.Column("validation_loss", sa.Double(), nullable=True),
        sa.Column("loss_curve", BLOB, nullable=True),
        sa.Column("code_version", sa.String(length=64), nullable=False),
        sa.Column("analysis_status", sa.String(length=16), nullable=False),
        sa.Column("solution_type_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "analysis_status IN ('pending', 'running', 'done', 'failed')",
            name=op.f("ck_networks_analysis_status"),
        ),
        sa.CheckConstraint("source IN ('trained', 'imported')", name=op.f("ck_networks_source")),
        sa.CheckConstraint(
            "status IN ('converged', 'failed', 'unfinished')", name=op.f("ck_networks_status")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_networks_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["solution_type_id"],
            ["solution_types.id"],
            name=op.f("fk_networks_solution_type_id_solution_types"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["task"], ["tasks.name"], name=op.f("fk_networks_task_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
        sa.UniqueConstraint("job_id", "index_in_job", name=op.f("uq_networks_job_id_index_in_job")),
    )
    op.create_index(op.f("ix_networks_solution_type_id"), "networks", ["solution_type_id"])
    op.create_index(op.f("ix_networks_task_id"), "networks", ["task", "id"])
    op.create_index(
        op.f("ix_networks_task_architecture_id"), "networks", ["task", "architecture", "id"]
    )
    op.create_index(
        op.f("ix_networks_task_architecture_units_id"),
        "networks",
        ["task", "architecture", "units", "id"],
    )
    op.create_index(
        op.f("ix_networks_task_validation_loss_id"), "networks", ["task", "validation_loss", "id"]
    )

    op.create_table(
        "checkpoints",
        _id(),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("loss", sa.Double(), nullable=True),
        sa.Column("weights", BLOB, nullable=False),
        sa.CheckConstraint(
            "kind IN ('initial', 'intermediate', 'final')", name=op.f("ck_checkpoints_kind")
        ),
        _network_fk("checkpoints"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoints")),
        sa.UniqueConstraint(
            "network_id", "kind", "epoch", name=op.f("uq_checkpoints_network_id_kind_epoch")
        ),
    )
    op.create_table(
        "analysis_runs",
        _id(),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')", name=op.f("ck_analysis_runs_status")
        ),
        _network_fk("analysis_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_runs")),
        sa.UniqueConstraint("network_id", "step", name=op.f("uq_analysis_runs_network_id_step")),
    )
    op.create_table(
        "validation_results",
        _id(),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("loss", sa.Double(), nullable=False),
        sa.Column("trial_errors", BLOB, nullable=False),
        sa.Column("conditions", BLOB, nullable=False),
        _network_fk("validation_results"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_results")),
        sa.UniqueConstraint("network_id", name=op.f("uq_validation_results_network_id")),
    )
    op.create_table(
        "fixed_points",
        _id(),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("condition", sa.String(length=64), nullable=False),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("q", sa.Double(), nullable=False),
        sa.Column("stable", sa.Boolean(), nullable=False),
        sa.Column("state", BLOB, nullable=False),
        sa.Column("output", BLOB, nullable=False),
        sa.Column("jacobian", BLOB, nullable=False),
        sa.Column("eigenvalues", BLOB, nullable=False),
        sa.CheckConstraint("kind IN ('fixed', 'slow')", name=op.f("ck_fixed_points_kind")),
        _network_fk("fixed_points"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fixed_points")),
    )
    op.create_index(op.f("ix_fixed_points_network_id"), "fixed_points", ["network_id"])
    op.create_table(
        "limit_cycles",
        _id(),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("condition", sa.String(length=64), nullable=False),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("states", BLOB, nullable=False),
        sa.Column("outputs", BLOB, nullable=False),
        _network_fk("limit_cycles"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_cycles")),
    )
    op.create_index(op.f("ix_limit_cycles_network_id"), "limit_cycles", ["network_id"])
    op.create_table(
        "extrapolation_signatures",
        _id(),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("probe", sa.String(length=64), nullable=False),
        sa.Column("arrays", BLOB, nullable=False),
        sa.Column("summary", JSON, nullable=False),
        _network_fk("extrapolation_signatures"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extrapolation_signatures")),
        sa.UniqueConstraint(
            "network_id", "probe", name=op.f("uq_extrapolation_signatures_network_id_probe")
        ),
    )
    op.create_table(
        "reduced_graphs",
        _id(),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("compact", JSON, nullable=False),
        sa.Column("full", JSON, nullable=False),
        sa.Column("canonical_hash", sa.String(length=128), nullable=False),
        sa.Column("n_nodes", sa.Integer(), nullable=False),
        sa.Column("n_edges", sa.Integer(), nullable=False),
        _network_fk("reduced_graphs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reduced_graphs")),
        sa.UniqueConstraint("network_id", name=op.f("uq_reduced_graphs_network_id")),
    )
    op.create_index(
        op.f("ix_reduced_graphs_canonical_hash"), "reduced_graphs", ["canonical_hash"]
    )
    op.create_table(
        "features",
        _id(),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("names", JSON, nullable=False),
        sa.Column("values", BLOB, nullable=False),
        _network_fk("features"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_features")),
        sa.UniqueConstraint("network_id", name=op.f("uq_features_network_id")),
    )

    op.create_table(
        "two_neuron_studies",
        _id(),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("task_parameters", JSON, nullable=False),
        sa.Column("training_config", JSON, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("code_version", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_two_neuron_studies")),
    )
    op.create_table(
        "two_neuron_networks",
        _id(),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("index_in_study", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("initial_w", BLOB, nullable=False),
        sa.Column("final_w", BLOB, nullable=False),
        sa.Column("loss", sa.Double(), nullable=False),
        sa.Column("solved", sa.Boolean(), nullable=False),
        sa.Column("loss_curve", BLOB, nullable=False),
        sa.Column("regime", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "regime IN ('limit_cycle', 'fixed_point', 'stable_origin')",
            name=op.f("ck_two_neuron_networks_regime"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["two_neuron_studies.id"],
            name=op.f("fk_two_neuron_networks_study_id_two_neuron_studies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_two_neuron_networks")),
        sa.UniqueConstraint(
            "study_id", "index_in_study", name=op.f("uq_two_neuron_networks_study_id_index_in_study")
        ),
    )


def downgrade() -> None:
    """Drop every table, children before parents (their indexes go with them)."""
    for table in (
        "two_neuron_networks",
        "two_neuron_studies",
        "features",
        "reduced_graphs",
        "extrapolation_signatures",
        "limit_cycles",
        "fixed_points",
        "validation_results",
        "analysis_runs",
        "checkpoints",
        "networks",
        "solution_types",
        "jobs",
        "tasks",
    ):
        op.drop_table(table)
