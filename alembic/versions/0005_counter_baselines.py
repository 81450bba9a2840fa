"""Counter baselines: where each SLO's counting of a scrape source left off, so a restart loses no events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counter_baselines",
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("slo", sa.String(length=255), nullable=False),
        sa.Column("target", sa.String(length=1024), nullable=False),
        sa.Column("sli", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counters", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("source", "slo", name=op.f("pk_counter_baselines")),
    )


def downgrade() -> None:
    op.drop_table("counter_baselines")
