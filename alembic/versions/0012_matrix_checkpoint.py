"""Matrix checkpoints: a history mark on every slice row, and compressed copies of the counts matrix.

A process starting with 10,000 SLOs loads the newest checkpoint and recomputes only the cells of the slices
written after its mark, instead of reading ~35 days of slices (docs/benchmarks.md).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 09:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column("slo_slices", sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False))
    op.create_index(op.f("ix_slo_slices_seq"), "slo_slices", ["seq"])
    mark = op.create_table(
        "slo_history_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slo_history_mark")),
    )
    op.bulk_insert(mark, [{"id": 1, "seq": 0}])
    op.create_table(
        "slo_matrix_checkpoints",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mark", sa.BigInteger(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slo_matrix_checkpoints")),
    )
    op.create_table(
        "slo_matrix_checkpoint_parts",
        sa.Column("checkpoint_id", ID, nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["slo_matrix_checkpoints.id"],
            name=op.f("fk_slo_matrix_checkpoint_parts_checkpoint_id_slo_matrix_checkpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("checkpoint_id", "part", name=op.f("pk_slo_matrix_checkpoint_parts")),
    )


def downgrade() -> None:
    op.drop_table("slo_matrix_checkpoint_parts")
    op.drop_table("slo_matrix_checkpoints")
    op.drop_table("slo_history_mark")
    op.drop_index(op.f("ix_slo_slices_seq"), table_name="slo_slices")
    op.drop_column("slo_slices", "seq")
