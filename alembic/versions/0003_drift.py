"""Drift monitoring: runs, per-column results, reference profiles, pushed batches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 10:30:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "drift_runs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("monitor", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reference_version", sa.String(length=255), nullable=True),
        sa.Column("rows_reference", sa.Integer(), nullable=True),
        sa.Column("rows_current", sa.Integer(), nullable=True),
        sa.Column("sample_rows_reference", sa.Integer(), nullable=True),
        sa.Column("sample_rows_current", sa.Integer(), nullable=True),
        sa.Column("drifted_share", sa.Double(), nullable=True),
        sa.Column("dataset_drifted", sa.Boolean(), nullable=True),
        sa.Column("quality", sa.JSON(), nullable=False),
        sa.Column("schema_problems", sa.JSON(), nullable=False),
        sa.Column("report_path", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('ok', 'failed')", name=op.f("ck_drift_runs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_runs")),
    )
    op.create_index("ix_drift_runs_monitor_started_at", "drift_runs", ["monitor", "started_at"], unique=False)
    op.create_index("ix_drift_runs_started_at", "drift_runs", ["started_at"], unique=False)

    op.create_table(
        "drift_columns",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("column", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=True),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("threshold", sa.Double(), nullable=True),
        sa.Column("drifted", sa.Boolean(), nullable=True),
        sa.Column("missing_share", sa.Double(), nullable=True),
        sa.Column("new_categories", sa.Integer(), nullable=True),
        sa.Column("out_of_range_share", sa.Double(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["drift_runs.id"], name=op.f("fk_drift_columns_run_id_drift_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "column", name=op.f("pk_drift_columns")),
    )

    op.create_table(
        "drift_profiles",
        sa.Column("monitor", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("monitor", "version", name=op.f("pk_drift_profiles")),
    )

    op.create_table(
        "drift_batches",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("monitor", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.CheckConstraint("rows >= 0", name=op.f("ck_drift_batches_rows_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_batches")),
    )
    op.create_index(
        "ix_drift_batches_monitor_received_at", "drift_batches", ["monitor", "received_at"], unique=False
    )
    op.create_index("ix_drift_batches_received_at", "drift_batches", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_drift_batches_received_at", table_name="drift_batches")
    op.drop_index("ix_drift_batches_monitor_received_at", table_name="drift_batches")
    op.drop_table("drift_batches")
    op.drop_table("drift_profiles")
    op.drop_table("drift_columns")
    op.drop_index("ix_drift_runs_started_at", table_name="drift_runs")
    op.drop_index("ix_drift_runs_monitor_started_at", table_name="drift_runs")
    op.drop_table("drift_runs")
