"""Users' task declarations, versioned.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

- task_declarations: one row per version of a task a user declared (`POST /tasks`,
  `atlas task add`): the task's name (a `tasks` row, so networks reference it as any task),
  the version (1, 2, ... per task; never rewritten) and the declaration as JSON.

Downgrading drops the declarations; networks of user tasks then can no longer be re-analysed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "task_declarations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("declaration", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "version > 0", name=op.f("ck_task_declarations_version_positive")
        ),
        sa.ForeignKeyConstraint(
            ["task"], ["tasks.name"], name=op.f("fk_task_declarations_task_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_declarations")),
        sa.UniqueConstraint("task", "version", name=op.f("uq_task_declarations_task_version")),
    )


def downgrade() -> None:
    op.drop_table("task_declarations")
