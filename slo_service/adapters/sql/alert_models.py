"""Typed SQLAlchemy 2 models of the alerting state, on the same metadata as the SLO history (models.py).

* `alerts` -- one row per episode of an alert (unique fingerprint + active_since); `alertname`, `service`
  and `severity` are copied out of the labels so the alert list can filter on indexed columns.
* `notification_outbox` -- the transactional outbox: written with the alert change, claimed by delivery
  workers with a lease (`claimed_until`), kept after delivery (external references, dead letters).
* `silences`, `acknowledgements`, `component_state` -- small operator and dispatcher state.

Timestamps are `UtcDateTime` (aware UTC in and out); documents are `sa.JSON` (json on PostgreSQL, text on
SQLite). Surrogate keys are BIGINT on PostgreSQL and INTEGER (the rowid alias, so it autoincrements) on SQLite.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Double, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from slo_service.adapters.sql.models import Base, UtcDateTime

Id = BigInteger().with_variant(Integer(), "sqlite")
"""An autoincrementing surrogate key on both backends (SQLite only autoincrements INTEGER PRIMARY KEY)."""


class AlertRow(Base):
    """One episode of one alert: pending -> firing -> resolved, or pending then dropped."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    active_since: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    alertname: Mapped[str | None] = mapped_column(String(255))
    service: Mapped[str | None] = mapped_column(String(255))
    severity: Mapped[str | None] = mapped_column(String(64))
    labels: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False)
    annotations: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False)
    values: Mapped[dict[str, float | None]] = mapped_column(JSON, nullable=False)
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_evaluated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    for_seconds: Mapped[float] = mapped_column(Double, nullable=False)

    __table_args__ = (
        UniqueConstraint("fingerprint", "active_since"),  # one row per episode; also the history index
        CheckConstraint("state IN ('pending', 'firing', 'resolved')", name="state"),
        Index("ix_alerts_state_active_since", "state", "active_since"),
        Index("ix_alerts_service_active_since", "service", "active_since"),
        Index("ix_alerts_severity_active_since", "severity", "active_since"),
        Index("ix_alerts_last_evaluated_at", "last_evaluated_at"),
        Index("ix_alerts_active_since", "active_since"),
    )


class OutboxRow(Base):
    """One notification to one receiver, and what became of it."""

    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    receiver: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    dedup_key: Mapped[str] = mapped_column(String(512), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    dead_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    external_ref: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="status"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_notification_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_notification_outbox_receiver_dedup_key", "receiver", "dedup_key"),
    )


class SilenceRow(Base):
    """An Alertmanager-style silence; matchers are stored in their selector text form (`slo="x"`)."""

    __tablename__ = "silences"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    matchers: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, index=True)
    created_by: Mapped[str] = mapped_column(String(255), nullable=False)
    comment: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class AcknowledgementRow(Base):
    """Someone took an alert group or alert; one row per acknowledgement (target + time)."""

    __tablename__ = "acknowledgements"

    target: Mapped[str] = mapped_column(String(512), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    acked_by: Mapped[str] = mapped_column(String(255), nullable=False)
    via: Mapped[str] = mapped_column(String(32), nullable=False)

    __table_args__ = (Index("ix_acknowledgements_at", "at"),)


class ComponentStateRow(Base):
    """A JSON document of one component's state (the dispatcher's groups, escalation timers)."""

    __tablename__ = "component_state"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class ClusterCounterRow(Base):
    """A counter the replicas share, raised in a transaction: `leader_epoch` (the fencing token: raised by each
    new leader, checked by every transaction that saves alert changes or enqueues messages) and
    `config_generation` (raised by a config reload; every replica reloads its files when it sees it move)."""

    __tablename__ = "cluster_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False)
    holder: Mapped[str] = mapped_column(String(255), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class AlertActionRow(Base):
    """An operator action (acknowledge, resolve, an Alertmanager webhook) received by a replica that does not
    lead, for the leader to apply once: `applied_at` and `result` are written in the transaction that saves
    its effect."""

    __tablename__ = "alert_actions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    args: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    replica: Mapped[str] = mapped_column(String(255), nullable=False)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_alert_actions_applied_at", "applied_at"),)
