"""Two-neuron study snapshots: the training state a restarted study continues from.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

- two_neuron_snapshots: one blob per study (atlas.training.snapshot's arrays as an .npz), the
  training run after its last snapshot step; deleted when the study's networks are stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BLOB = sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "two_neuron_snapshots",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("payload", BLOB, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["two_neuron_studies.id"],
            name=op.f("fk_two_neuron_snapshots_study_id_two_neuron_studies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("study_id", name=op.f("pk_two_neuron_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("two_neuron_snapshots")
