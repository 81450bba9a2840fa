"""Delivery pipeline: deployments, deploy freezes, CI signatures seen (replay window), quality gates.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 02:20:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("environment", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("model_version", sa.String(length=255), nullable=True),
        sa.Column("commit", sa.String(length=255), nullable=True),
        sa.Column("pipeline_url", sa.Text(), nullable=True),
        sa.Column("at", AT, nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
    )
    op.create_index("ix_deployments_service_environment_at", "deployments", ["service", "environment", "at"])
    op.create_index("ix_deployments_at", "deployments", ["at"])
    op.create_table(
        "deploy_freezes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", AT, nullable=False),
        sa.Column("by", sa.String(length=255), nullable=False),
        sa.Column("lifted_at", AT, nullable=True),
        sa.Column("lifted_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deploy_freezes")),
    )
    op.create_index("ix_deploy_freezes_service_lifted_at", "deploy_freezes", ["service", "lifted_at"])
    op.create_table(
        "ci_signatures",
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("seen_at", AT, nullable=False),
        sa.PrimaryKeyConstraint("signature", name=op.f("pk_ci_signatures")),
    )
    op.create_index("ix_ci_signatures_seen_at", "ci_signatures", ["seen_at"])
    op.create_table(
        "quality_gates",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("deployment_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("window_start", AT, nullable=False),
        sa.Column("window_end", AT, nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("evaluated_at", AT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_gates")),
    )
    op.create_index("ix_quality_gates_status_window_end", "quality_gates", ["status", "window_end"])


def downgrade() -> None:
    op.drop_table("quality_gates")
    op.drop_table("ci_signatures")
    op.drop_table("deploy_freezes")
    op.drop_table("deployments")
