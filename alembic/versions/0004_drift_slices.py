"""Drift: per-slice histograms of pushed current data.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 11:20:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "drift_slices",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("monitor", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("slice_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("histograms", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_slices")),
    )
    with op.batch_alter_table("drift_slices", schema=None) as batch_op:
        batch_op.create_index("ix_drift_slices_monitor_version_start", ["monitor", "version", "slice_start"])
        batch_op.create_index("ix_drift_slices_slice_start", ["slice_start"])


def downgrade() -> None:
    with op.batch_alter_table("drift_slices", schema=None) as batch_op:
        batch_op.drop_index("ix_drift_slices_slice_start")
        batch_op.drop_index("ix_drift_slices_monitor_version_start")
    op.drop_table("drift_slices")
