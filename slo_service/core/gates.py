"""Quality gates, Keptn style: what a gate checks, the stored gate, and its pure evaluation (see below)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class GateStatus(StrEnum):
    """A gate's answer; pending until its verification window has passed and it was evaluated."""

    PENDING = "pending"
    PASS = "pass"
    WARNING = "warning"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class StoredGate:
    """A gate as stored: its request (`spec`, JSON) and, once evaluated, its result (JSON)."""

    id: str
    service: str
    deployment_id: str | None
    created_at: datetime
    window_start: datetime
    window_end: datetime
    spec: Mapping[str, Any]
    status: GateStatus = GateStatus.PENDING
    result: Mapping[str, Any] | None = None
    evaluated_at: datetime | None = None


class GateStore(Protocol):
    """Durable quality gates, so every replica answers for every gate and a restart loses none."""

    def add_gate(self, gate: StoredGate) -> StoredGate: ...

    def get_gate(self, gate_id: str) -> StoredGate | None: ...

    def due_gates(self, now: datetime, limit: int = 100) -> list[StoredGate]:
        """Pending gates whose window ended at or before `now`, oldest window end first."""
        ...

    def finish_gate(self, gate_id: str, status: GateStatus, result: Mapping[str, Any], at: datetime) -> StoredGate:
        """Store the result of a pending gate; a gate already finished keeps its first result (returned)."""
        ...
