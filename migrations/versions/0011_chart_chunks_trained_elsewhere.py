"""What an imported chart chunk trained where it ran gets a column of its own.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08

- chart_chunks.trained_elsewhere (nullable): for a chunk imported with a chart's dataset, the
  networks it trained where it ran (the dataset carries only the accepted ones). Until now the
  chunk's job kept that number in jobs.n_saved, which otherwise counts the networks stored.
  The chunks whose job recorded more networks than it stores move the number here, and their
  job's n_saved becomes the count stored; downgrading moves it back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORDED = "(SELECT jobs.n_saved FROM jobs WHERE jobs.id = chart_chunks.job_id)"
STORED_BY_CHUNK = "(SELECT count(*) FROM networks WHERE networks.job_id = chart_chunks.job_id)"
STORED_BY_JOB = "(SELECT count(*) FROM networks WHERE networks.job_id = jobs.id)"
IMPORTED_JOBS = "SELECT job_id FROM chart_chunks WHERE trained_elsewhere IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("chart_chunks") as batch:
        batch.add_column(sa.Column("trained_elsewhere", sa.Integer(), nullable=True))
    op.execute(
        f"UPDATE chart_chunks SET trained_elsewhere = {RECORDED} "
        f"WHERE {RECORDED} > {STORED_BY_CHUNK}"
    )
    op.execute(f"UPDATE jobs SET n_saved = {STORED_BY_JOB} WHERE id IN ({IMPORTED_JOBS})")


def downgrade() -> None:
    op.execute(
        "UPDATE jobs SET n_saved = (SELECT chart_chunks.trained_elsewhere FROM chart_chunks "
        f"WHERE chart_chunks.job_id = jobs.id) WHERE id IN ({IMPORTED_JOBS})"
    )
    with op.batch_alter_table("chart_chunks") as batch:
        batch.drop_column("trained_elsewhere")
