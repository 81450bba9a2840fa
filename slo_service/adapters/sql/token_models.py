"""The `api_tokens` table: API tokens by name, with the SHA-256 of the token and never the token itself.

Revoked tokens stay (revoked_at set), so their names keep meaning the same token in logs and audits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from slo_service.adapters.sql.alert_models import Id
from slo_service.adapters.sql.models import Base, UtcDateTime


class ApiTokenRow(Base):
    """One API token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    scopes: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # NULL: never

    __table_args__ = (
        UniqueConstraint("name"),
        UniqueConstraint("token_hash"),  # also the index every authenticated request looks up
    )
