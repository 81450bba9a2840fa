"""Response actions: decisions (unique idempotency key), action runs (claimed with a lease), audit log.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 03:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "action_decisions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("episode", sa.String(length=512), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("decided_at", AT, nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("why", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_decisions")),
        sa.UniqueConstraint("key", name=op.f("uq_action_decisions_key")),
    )
    op.create_index("ix_action_decisions_decided_at", "action_decisions", ["decided_at"])
    op.create_table(
        "action_runs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("decision_key", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("updated_at", AT, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", AT, nullable=True),
        sa.Column("claimed_until", AT, nullable=True),
        sa.Column("sent_at", AT, nullable=True),
        sa.Column("report_deadline", AT, nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_runs")),
        sa.UniqueConstraint("decision_key", name=op.f("uq_action_runs_decision_key")),
    )
    op.create_index("ix_action_runs_service_action", "action_runs", ["service", "action"])
    op.create_index("ix_action_runs_state_next_attempt_at", "action_runs", ["state", "next_attempt_at"])
    op.create_table(
        "action_audit",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("at", AT, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("decision_key", sa.String(length=64), nullable=True),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_audit")),
    )
    op.create_index("ix_action_audit_run_id", "action_audit", ["run_id"])
    op.create_index("ix_action_audit_at", "action_audit", ["at"])


def downgrade() -> None:
    op.drop_table("action_audit")
    op.drop_table("action_runs")
    op.drop_table("action_decisions")
