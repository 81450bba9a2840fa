"""Tables of the delivery pipeline: deployments, deploy freezes, CI signatures seen, quality gates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from slo_service.adapters.sql.alert_models import Id
from slo_service.adapters.sql.models import Base, UtcDateTime


class DeploymentRow(Base):
    """One deployment event from CI."""

    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(255), nullable=False)
    environment: Mapped[str] = mapped_column(String(255), nullable=False)
    version: Mapped[str] = mapped_column(String(255), nullable=False)
    model_version: Mapped[str | None] = mapped_column(String(255))
    commit: Mapped[str | None] = mapped_column(String(255))
    pipeline_url: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)

    __table_args__ = (
        Index("ix_deployments_service_environment_at", "service", "environment", "at"),
        Index("ix_deployments_at", "at"),
    )


class DeployFreezeRow(Base):
    """A deploy freeze of a service; lifted ones stay as history."""

    __tablename__ = "deploy_freezes"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(255), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    since: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    by: Mapped[str] = mapped_column(String(255), nullable=False)
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (Index("ix_deploy_freezes_service_lifted_at", "service", "lifted_at"),)


class CiSignatureRow(Base):
    """A signature of a CI request already accepted, kept for the replay window so a replay is refused on
    every replica."""

    __tablename__ = "ci_signatures"

    signature: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_ci_signatures_seen_at", "seen_at"),)


class GateRow(Base):
    """A quality gate: what to check (spec), over which window, and its result once evaluated."""

    __tablename__ = "quality_gates"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(255), nullable=False)
    deployment_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_quality_gates_status_window_end", "status", "window_end"),)
