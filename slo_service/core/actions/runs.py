"""Action runs and their state machine, and the guards a decision passes before it may run.

    pending_approval ──approve──▶ approved ──send──▶ sent ──▶ running ──▶ succeeded | failed | timed_out
            ├──deny──▶ denied          └──▶ failed (the target refused it for good)
            └──approval_timeout──▶ expired
                                       └──▶ succeeded (an action the service carried out itself)

A decision in dry-run mode becomes a `dry_run` run: recorded, never sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from slo_service.core.actions.policy import ResponsePolicy


class RunState(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"  # to be sent (approval given, or none needed)
    DENIED = "denied"
    SENT = "sent"  # the target accepted the trigger
    RUNNING = "running"  # CI said it started
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"  # no report from CI within the status timeout
    DRY_RUN = "dry_run"
    EXPIRED = "expired"  # nobody approved or denied it within the policy's approval_timeout


TERMINAL = frozenset(
    {RunState.DENIED, RunState.SUCCEEDED, RunState.FAILED, RunState.TIMED_OUT, RunState.DRY_RUN, RunState.EXPIRED}
)
IN_FLIGHT = frozenset({RunState.PENDING_APPROVAL, RunState.APPROVED, RunState.SENT, RunState.RUNNING})
AWAITING_REPORT = frozenset({RunState.SENT, RunState.RUNNING})

TRANSITIONS: Mapping[RunState, frozenset[RunState]] = {
    RunState.PENDING_APPROVAL: frozenset({RunState.APPROVED, RunState.DENIED, RunState.EXPIRED}),
    RunState.APPROVED: frozenset({RunState.SENT, RunState.FAILED, RunState.SUCCEEDED}),
    RunState.SENT: frozenset({RunState.RUNNING, RunState.SUCCEEDED, RunState.FAILED, RunState.TIMED_OUT}),
    RunState.RUNNING: frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.TIMED_OUT}),
}

REPORTABLE = frozenset({RunState.RUNNING, RunState.SUCCEEDED, RunState.FAILED})
"""The states CI may report through POST /api/v1/actions/{id}/status."""


class InvalidTransition(ValueError):
    """A run cannot move from its state to the one asked for (e.g. approving a denied run)."""


def check_transition(current: RunState, new: RunState) -> None:
    """Raise InvalidTransition unless `current` → `new` is allowed (a report repeating the state is not)."""
    if new not in TRANSITIONS.get(current, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, frozenset()))) or "none: the run is finished"
        raise InvalidTransition(f"a {current.value} run cannot become {new.value} (allowed: {allowed})")


@dataclass(frozen=True)
class ActionRun:
    """One action a decision set going (one per decision)."""

    decision_key: str
    policy: str
    action: str
    service: str
    target: str | None
    state: RunState
    created_at: datetime
    updated_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    id: int | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    report_deadline: datetime | None = None
    decided_by: str | None = None  # who approved or denied
    last_error: str | None = None
    answer: Mapping[str, Any] = field(default_factory=dict)  # what the target or CI said last


@dataclass(frozen=True)
class Verdict:
    """What the guards make of a new decision: the state of its run, or why none is started."""

    outcome: str  # "run" | "pending_approval" | "dry_run" | "cooldown" | "in_flight"
    detail: str = ""

    @property
    def state(self) -> RunState | None:
        return {
            "run": RunState.APPROVED,
            "pending_approval": RunState.PENDING_APPROVAL,
            "dry_run": RunState.DRY_RUN,
        }.get(self.outcome)


def guard(policy: ResponsePolicy, runs: Iterable[ActionRun], now: datetime, *, dry_run: bool = False) -> Verdict:
    """The guards, in order: one action of a kind in flight per service, the cooldown per service and action
    (counted from the last run that was not denied, expired or dry), dry-run, approval. `runs`: that service's runs
    of that action."""
    previous = list(runs)
    busy = [r for r in previous if r.state in IN_FLIGHT]
    if busy:
        return Verdict("in_flight", f"run {busy[0].id} of {policy.action_name} is {busy[0].state.value}")
    counted = [r for r in previous if r.state not in (RunState.DENIED, RunState.DRY_RUN, RunState.EXPIRED)]
    if counted:
        last = max(counted, key=lambda r: r.created_at)
        if now - last.created_at < policy.cooldown:
            left = policy.cooldown - (now - last.created_at)
            return Verdict("cooldown", f"run {last.id} started {_ago(now - last.created_at)} ago; {_ago(left)} left")
    if dry_run or policy.dry_run:
        return Verdict("dry_run", "dry-run: recorded, not sent")
    if policy.approval:
        return Verdict("pending_approval", "waits for a person to approve or deny it")
    return Verdict("run")


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"
