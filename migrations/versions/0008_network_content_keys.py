"""Content keys of imported networks: importing the same weights again finds the network.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08

- networks.content_key (nullable, indexed): atlas.datasets.network_key of an imported
  network (task, parameters, architecture and final weights), the key its dataset export
  carries. `POST /solutions/import` and dataset imports look it up to return the network
  already there. Trained networks keep none.

The imported networks already stored get theirs from their final checkpoint (the weights are
in the database: one read and one SHA-256 per imported network). Networks imported twice
before this revision both get the key; a later import returns the older one.
"""

import io
from collections.abc import Sequence

import numpy as np
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from atlas.datasets import network_key

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BLOB = sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql")

networks = sa.table(
    "networks",
    sa.column("id", sa.Integer()),
    sa.column("task", sa.String()),
    sa.column("task_parameters", JSON),
    sa.column("architecture", sa.String()),
    sa.column("source", sa.String()),
    sa.column("content_key", sa.String()),
)
checkpoints = sa.table(
    "checkpoints",
    sa.column("id", sa.Integer()),
    sa.column("network_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("epoch", sa.Integer()),
    sa.column("weights", BLOB),
)


def _final_weights(connection: sa.Connection, network_id: int) -> dict[str, np.ndarray] | None:
    blob = connection.scalar(
        sa.select(checkpoints.c.weights)
        .where(checkpoints.c.network_id == network_id, checkpoints.c.kind == "final")
        .order_by(checkpoints.c.epoch.desc(), checkpoints.c.id.desc())
        .limit(1)
    )
    if blob is None:
        return None
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def upgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.add_column(sa.Column("content_key", sa.String(length=64), nullable=True))
        batch.create_index(op.f("ix_networks_content_key"), ["content_key"])
    connection = op.get_bind()
    imported = connection.execute(
        sa.select(
            networks.c.id, networks.c.task, networks.c.task_parameters, networks.c.architecture
        )
        .where(networks.c.source == "imported")
        .order_by(networks.c.id)
    ).all()
    for network_id, task, parameters, architecture in imported:
        weights = _final_weights(connection, network_id)
        if weights is None:
            continue
        connection.execute(
            sa.update(networks)
            .where(networks.c.id == network_id)
            .values(content_key=network_key(task, parameters, architecture, weights))
        )


def downgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.drop_index(op.f("ix_networks_content_key"))
        batch.drop_column("content_key")
