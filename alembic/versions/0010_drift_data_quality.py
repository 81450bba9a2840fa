"""Drift: data-quality findings of a run, rows of new categories beside the count of new categories, and the
kind of a pushed batch (rows or labels).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-11 10:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("drift_runs") as batch:
        batch.add_column(sa.Column("data_quality", sa.JSON(), nullable=True))
    with op.batch_alter_table("drift_columns") as batch:
        batch.add_column(sa.Column("new_category_rows", sa.Integer(), nullable=True))
    with op.batch_alter_table("drift_batches") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="rows"))


def downgrade() -> None:
    with op.batch_alter_table("drift_batches") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("drift_columns") as batch:
        batch.drop_column("new_category_rows")
    with op.batch_alter_table("drift_runs") as batch:
        batch.drop_column("data_quality")
