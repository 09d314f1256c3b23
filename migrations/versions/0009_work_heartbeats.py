"""Heartbeats of running work: a worker killed outright is noticed and its work given back.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08

- jobs.heartbeat_at, two_neuron_studies.heartbeat_at, charts.heartbeat_at (nullable): when a
  worker holding the work last said it was alive (atlas.store.leases). Charts carry the column
  with the other work columns; their chunks are jobs, which beat.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("jobs", "two_neuron_studies", "charts")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("heartbeat_at")
