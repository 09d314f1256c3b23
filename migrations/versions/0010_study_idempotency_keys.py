"""Idempotency keys of two-neuron studies: a retried `POST /studies` makes one study.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

- two_neuron_studies.idempotency_key (nullable, unique): the client's `Idempotency-Key`, as
  jobs and charts keep theirs; two requests racing with one key meet the constraint and both
  answer the one study. The studies already stored have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("two_neuron_studies") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_two_neuron_studies_idempotency_key"), ["idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("two_neuron_studies") as batch:
        batch.drop_constraint(op.f("uq_two_neuron_studies_idempotency_key"), type_="unique")
        batch.drop_column("idempotency_key")
