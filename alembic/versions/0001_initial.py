"""Initial schema: slices, ingest keys, scrape health, evaluations.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 09:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slo_slices",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("start_epoch", sa.BigInteger(), nullable=False),
        sa.Column("good", sa.Double(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.CheckConstraint("series IN ('events', 'slices')", name=op.f("ck_slo_slices_series")),
        sa.CheckConstraint("resolution > 0", name=op.f("ck_slo_slices_resolution_positive")),
        sa.PrimaryKeyConstraint("key", "series", "resolution", "start_epoch", name=op.f("pk_slo_slices")),
    )
    op.create_index("ix_slo_slices_resolution_start_epoch", "slo_slices", ["resolution", "start_epoch"], unique=False)

    op.create_table(
        "ingest_keys",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_ingest_keys")),
    )
    op.create_index(op.f("ix_ingest_keys_received_at"), "ingest_keys", ["received_at"], unique=False)

    op.create_table(
        "scrape_health",
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("target", sa.String(length=1024), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("up", sa.Boolean(), nullable=False),
        sa.Column("duration_seconds", sa.Double(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source", "target", name=op.f("pk_scrape_health")),
    )
    op.create_index(op.f("ix_scrape_health_at"), "scrape_health", ["at"], unique=False)

    op.create_table(
        "slo_evaluations",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sli", sa.Double(), nullable=True),
        sa.Column("budget_remaining", sa.Double(), nullable=True),
        sa.Column("burn_rates", sa.JSON(), nullable=False),
        sa.Column("good", sa.Double(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", "at", name=op.f("pk_slo_evaluations")),
    )
    op.create_index("ix_slo_evaluations_at", "slo_evaluations", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_slo_evaluations_at", table_name="slo_evaluations")
    op.drop_table("slo_evaluations")
    op.drop_index(op.f("ix_scrape_health_at"), table_name="scrape_health")
    op.drop_table("scrape_health")
    op.drop_index(op.f("ix_ingest_keys_received_at"), table_name="ingest_keys")
    op.drop_table("ingest_keys")
    op.drop_index("ix_slo_slices_resolution_start_epoch", table_name="slo_slices")
    op.drop_table("slo_slices")
