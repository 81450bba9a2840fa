"""Ports of the response pipeline: the CI targets that carry actions out and the store of decisions and runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from slo_service.core.actions.matching import Decision
from slo_service.core.actions.runs import ActionRun, RunState, Verdict
from slo_service.core.notify import DeliveryResult


@dataclass(frozen=True)
class TriggerRequest:
    """What a target is asked to do: the run, its idempotency key (sent along so a CI can deduplicate a
    redelivery), the action, its parameters and the decision's payload."""

    run_id: int
    idempotency_key: str
    action: str
    service: str
    params: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict)

    def inputs(self) -> dict[str, str]:
        """Flat string inputs (GitHub workflow inputs, GitLab variables, Jenkins and Argo parameters): the
        action's fields first, the policy's params over them."""
        out = {
            "action": self.action,
            "service": self.service,
            "idempotency_key": self.idempotency_key,
            "action_run_id": str(self.run_id),
        }
        for key in ("environment", "from_version", "to_version", "monitor"):
            value = self.payload.get(key)
            if isinstance(value, str):
                out[key] = value
        out.update(self.params)
        return out


class Target(Protocol):
    """A CI system (or cluster) an action is sent to. Never raises: the outcome says delivered, retry or failed."""

    name: str

    def trigger(self, request: TriggerRequest) -> DeliveryResult: ...


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    kind: str  # decision | approval | denial | send | report | timeout | local
    actor: str  # "policy", a person, a target's name, "ci"
    decision_key: str | None = None
    run_id: int | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True)
class StoredDecision:
    decision: Decision
    outcome: str  # the guards' verdict
    detail: str
    run_id: int | None


class ActionStore(Protocol):
    """Decisions, action runs and the audit log. Every method is one transaction."""

    def record(self, decision: Decision, verdict: Verdict, run: ActionRun | None) -> tuple[bool, int | None]:
        """Store a decision (and its run) unless its key is known: (stored, the run's id), audited."""
        ...

    def runs_of(self, service: str, action: str) -> list[ActionRun]: ...

    def known_keys(self, keys: Sequence[str]) -> set[str]: ...

    def claim_due(self, now: datetime, lease: timedelta, limit: int = 10) -> list[ActionRun]: ...

    def sent(self, run: ActionRun, result: DeliveryResult, next_state: RunState | None, now: datetime) -> ActionRun:
        """The outcome of one send: `next_state` (sent, failed) or None to retry at `run.next_attempt_at`."""
        ...

    def move(
        self, run_id: int, state: RunState, actor: str, now: datetime, detail: Mapping[str, Any] | None = None
    ) -> ActionRun:
        """Move a run to `state` (InvalidTransition when not allowed; KeyError when unknown), audited."""
        ...

    def overdue(self, now: datetime) -> list[ActionRun]: ...

    def get(self, run_id: int) -> ActionRun | None: ...

    def runs(self, limit: int = 100, state: str | None = None, service: str | None = None) -> list[ActionRun]: ...

    def decisions(self, limit: int = 100, service: str | None = None) -> list[StoredDecision]: ...

    def audit(self, limit: int = 100, run_id: int | None = None) -> list[AuditEntry]: ...

    def add_audit(self, entry: AuditEntry) -> None: ...
