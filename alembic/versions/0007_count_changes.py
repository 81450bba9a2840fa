"""Count changes: the log of count increments every replica tails to keep its in-memory window current.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09 09:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "count_changes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("replica", sa.String(length=255), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("increments", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_count_changes")),
    )
    op.create_index(op.f("ix_count_changes_written_at"), "count_changes", ["written_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_count_changes_written_at"), table_name="count_changes")
    op.drop_table("count_changes")
