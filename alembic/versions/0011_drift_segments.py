"""Drift: per-segment results of a run (monitor.segment_by), as JSON.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-12 10:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("drift_runs") as batch:
        batch.add_column(sa.Column("segments", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drift_runs") as batch:
        batch.drop_column("segments")
