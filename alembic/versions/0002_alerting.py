"""Alerting: alert episodes, the notification outbox, silences, acknowledgements, component state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 09:30:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("active_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("alertname", sa.String(length=255), nullable=True),
        sa.Column("service", sa.String(length=255), nullable=True),
        sa.Column("severity", sa.String(length=64), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("for_seconds", sa.Double(), nullable=False),
        sa.CheckConstraint("state IN ('pending', 'firing', 'resolved')", name=op.f("ck_alerts_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("fingerprint", "active_since", name=op.f("uq_alerts_fingerprint_active_since")),
    )
    op.create_index("ix_alerts_active_since", "alerts", ["active_since"], unique=False)
    op.create_index("ix_alerts_last_evaluated_at", "alerts", ["last_evaluated_at"], unique=False)
    op.create_index("ix_alerts_service_active_since", "alerts", ["service", "active_since"], unique=False)
    op.create_index("ix_alerts_severity_active_since", "alerts", ["severity", "active_since"], unique=False)
    op.create_index("ix_alerts_state_active_since", "alerts", ["state", "active_since"], unique=False)

    op.create_table(
        "notification_outbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("receiver", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("dedup_key", sa.String(length=512), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("external_ref", sa.JSON(), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')", name=op.f("ck_notification_outbox_status")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_notification_outbox_attempts_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
    )
    op.create_index(
        "ix_notification_outbox_receiver_dedup_key", "notification_outbox", ["receiver", "dedup_key"], unique=False
    )
    op.create_index(
        "ix_notification_outbox_status_next_attempt_at",
        "notification_outbox",
        ["status", "next_attempt_at"],
        unique=False,
    )

    op.create_table(
        "silences",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
    )
    op.create_index(op.f("ix_silences_ends_at"), "silences", ["ends_at"], unique=False)

    op.create_table(
        "acknowledgements",
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acked_by", sa.String(length=255), nullable=False),
        sa.Column("via", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("target", "at", name=op.f("pk_acknowledgements")),
    )
    op.create_index("ix_acknowledgements_at", "acknowledgements", ["at"], unique=False)

    op.create_table(
        "component_state",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_component_state")),
    )


def downgrade() -> None:
    op.drop_table("component_state")
    op.drop_index("ix_acknowledgements_at", table_name="acknowledgements")
    op.drop_table("acknowledgements")
    op.drop_index(op.f("ix_silences_ends_at"), table_name="silences")
    op.drop_table("silences")
    op.drop_index("ix_notification_outbox_status_next_attempt_at", table_name="notification_outbox")
    op.drop_index("ix_notification_outbox_receiver_dedup_key", table_name="notification_outbox")
    op.drop_table("notification_outbox")
    op.drop_index("ix_alerts_state_active_since", table_name="alerts")
    op.drop_index("ix_alerts_severity_active_since", table_name="alerts")
    op.drop_index("ix_alerts_service_active_since", table_name="alerts")
    op.drop_index("ix_alerts_last_evaluated_at", table_name="alerts")
    op.drop_index("ix_alerts_active_since", table_name="alerts")
    op.drop_table("alerts")
