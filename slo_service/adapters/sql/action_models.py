"""Tables of response actions: decisions (one per idempotency key), action runs (claimed like the outbox) and
the audit log of every decision, approval and target answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from slo_service.adapters.sql.alert_models import Id
from slo_service.adapters.sql.models import Base, UtcDateTime


class ActionDecisionRow(Base):
    """A policy matched a subject; the unique key makes a repeated evaluation a no-op."""

    __tablename__ = "action_decisions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    policy: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(255), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    service: Mapped[str] = mapped_column(String(255), nullable=False)
    subject: Mapped[str] = mapped_column(String(512), nullable=False)
    episode: Mapped[str] = mapped_column(String(512), nullable=False)
    target: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    why: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    run_id: Mapped[int | None] = mapped_column(Id)

    __table_args__ = (Index("ix_action_decisions_decided_at", "decided_at"),)


class ActionRunRow(Base):
    """One action a decision set going, and where it is in its life."""

    __tablename__ = "action_runs"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    decision_key: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    policy: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(255), nullable=False)
    service: Mapped[str] = mapped_column(String(255), nullable=False)
    target: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    params: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    report_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)

    __table_args__ = (
        Index("ix_action_runs_service_action", "service", "action"),
        Index("ix_action_runs_state_next_attempt_at", "state", "next_attempt_at"),
    )


class ActionAuditRow(Base):
    """One entry of the audit log."""

    __tablename__ = "action_audit"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    decision_key: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(Id)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)

    __table_args__ = (Index("ix_action_audit_run_id", "run_id"), Index("ix_action_audit_at", "at"))
