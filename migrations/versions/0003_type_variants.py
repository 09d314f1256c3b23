"""Solution types per task variant.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

- solution_types: `variant` (the task's parameter set, atlas.tasks.variants: `default` for the
  task's own parameters) and `task_parameters` (that set in full). Types stored before this
  revision were all of the default parameters: they get `default` and their task's parameters.
  The hash index leads with task and variant, the columns every lookup of a bucket filters on.

Downgrading deletes the types of other variants (their networks lose their type).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TASK_PARAMETERS = "(SELECT parameters FROM tasks WHERE tasks.name = solution_types.task)"


def upgrade() -> None:
    with op.batch_alter_table("solution_types") as batch:
        batch.add_column(
            sa.Column("variant", sa.String(length=16), nullable=False, server_default="default")
        )
        batch.add_column(sa.Column("task_parameters", JSON, nullable=True))
    op.execute(f"UPDATE solution_types SET task_parameters = {TASK_PARAMETERS}")
    with op.batch_alter_table("solution_types") as batch:
        batch.alter_column("variant", server_default=None)
        batch.alter_column("task_parameters", existing_type=JSON, nullable=False)
        batch.drop_index(op.f("ix_solution_types_task_canonical_hash"))
        batch.create_index(
            op.f("ix_solution_types_task_variant_canonical_hash"),
            ["task", "variant", "canonical_hash"],
        )


def downgrade() -> None:
    others = "SELECT id FROM solution_types WHERE variant <> 'default'"
    op.execute(f"UPDATE networks SET solution_type_id = NULL WHERE solution_type_id IN ({others})")
    op.execute("DELETE FROM solution_types WHERE variant <> 'default'")
    with op.batch_alter_table("solution_types") as batch:
        batch.drop_index(op.f("ix_solution_types_task_variant_canonical_hash"))
        batch.create_index(
            op.f("ix_solution_types_task_canonical_hash"), ["task", "canonical_hash"]
        )
        batch.drop_column("task_parameters")
        batch.drop_column("variant")
