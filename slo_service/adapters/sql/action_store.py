"""Decisions, action runs and the audit log in SQL; implements `ActionStore` (schema revision 0014 or later).

Runs are claimed like the notification outbox (adapters/sql/alert_store.py): due `approved` runs are leased
(`claimed_until`) with FOR UPDATE SKIP LOCKED on PostgreSQL (BEGIN IMMEDIATE on SQLite), so one worker sends a
run at a time and a crashed worker's claim expires and is retried with the same idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, or_, select, update
from sqlalchemy.exc import IntegrityError

from slo_service.adapters.sql.action_models import ActionAuditRow, ActionDecisionRow, ActionRunRow
from slo_service.adapters.sql.base import SqlStoreBase
from slo_service.core.actions.matching import Decision
from slo_service.core.actions.policy import ActionKind
from slo_service.core.actions.ports import AuditEntry, StoredDecision
from slo_service.core.actions.runs import AWAITING_REPORT, ActionRun, RunState, Verdict, check_transition
from slo_service.core.notify import DeliveryResult

_decisions: Table = ActionDecisionRow.__table__  # type: ignore[assignment]
_runs: Table = ActionRunRow.__table__  # type: ignore[assignment]
_audit: Table = ActionAuditRow.__table__  # type: ignore[assignment]

_RUN_FIELDS = (
    "decision_key",
    "policy",
    "action",
    "service",
    "target",
    "created_at",
    "updated_at",
    "payload",
    "params",
    "attempts",
    "next_attempt_at",
    "sent_at",
    "report_deadline",
    "decided_by",
    "last_error",
    "answer",
)


def _run(row: Any) -> ActionRun:
    return ActionRun(**{f: getattr(row, f) for f in _RUN_FIELDS}, state=RunState(row.state), id=int(row.id))


def _row(run: ActionRun) -> dict[str, Any]:
    out = {f: getattr(run, f) for f in _RUN_FIELDS}
    out.update(state=run.state.value, payload=dict(run.payload), params=dict(run.params), answer=dict(run.answer))
    return out


class SqlActionStore(SqlStoreBase):
    """One transaction per method, SQLite or PostgreSQL."""

    def record(self, decision: Decision, verdict: Verdict, run: ActionRun | None) -> tuple[bool, int | None]:
        d = decision
        try:
            with self._write() as conn:
                run_id = None
                if run is not None:
                    run_id = int(conn.execute(_runs.insert().returning(_runs.c.id), _row(run)).scalar_one())
                conn.execute(
                    _decisions.insert(),
                    {
                        "key": d.key,
                        "policy": d.policy,
                        "action": d.action,
                        "kind": d.kind.value,
                        "service": d.service,
                        "subject": d.subject,
                        "episode": d.episode,
                        "target": d.target,
                        "decided_at": d.decided_at,
                        "outcome": verdict.outcome,
                        "detail": verdict.detail,
                        "why": d.why,
                        "payload": d.payload,
                        "run_id": run_id,
                    },
                )
                self._audit_in(
                    conn, AuditEntry(d.decided_at, "decision", "policy", d.key, run_id, _decided(d, verdict))
                )
        except IntegrityError:  # the key is known: an earlier evaluation (or another replica) decided already
            return False, None
        return True, run_id

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        with self._read() as conn:
            return set(conn.execute(select(_decisions.c.key).where(_decisions.c.key.in_(list(keys)))).scalars())

    def runs_of(self, service: str, action: str) -> list[ActionRun]:
        r = _runs.c
        with self._read() as conn:
            rows = conn.execute(select(_runs).where(r.service == service, r.action == action).order_by(r.id)).all()
        return [_run(x) for x in rows]

    def claim_due(self, now: datetime, lease: timedelta, limit: int = 10) -> list[ActionRun]:
        """Approved runs due by `now` and not claimed, oldest first, each claimed until `now + lease`."""
        r = _runs.c
        due = (
            select(r.id)
            .where(
                r.state == RunState.APPROVED.value,
                or_(r.next_attempt_at.is_(None), r.next_attempt_at <= now),
                or_(r.claimed_until.is_(None), r.claimed_until < now),
            )
            .order_by(r.id)
            .limit(limit)
        )
        with self._write() as conn:
            if self._dialect == "postgresql":
                due = due.with_for_update(skip_locked=True, of=_runs)
            ids = [int(i) for i in conn.execute(due).scalars()]
            if not ids:
                return []
            conn.execute(update(_runs).where(r.id.in_(ids)).values(claimed_until=now + lease))
            rows = conn.execute(select(_runs).where(r.id.in_(ids)).order_by(r.id)).all()
        return [_run(x) for x in rows]

    def sent(self, run: ActionRun, result: DeliveryResult, next_state: RunState | None, now: datetime) -> ActionRun:
        assert run.id is not None
        values: dict[str, Any] = {
            "attempts": run.attempts,
            "next_attempt_at": run.next_attempt_at,
            "claimed_until": None,
            "updated_at": now,
            "last_error": result.error,
            "answer": {"status_code": result.status_code, "outcome": result.outcome.value, **result.external_ref},
        }
        if next_state is not None:
            values["state"] = next_state.value
            if next_state is RunState.SENT:
                values["sent_at"] = now
                values["report_deadline"] = run.report_deadline
        detail: dict[str, Any] = {"outcome": result.outcome.value, "status_code": result.status_code}
        detail["error"] = result.error
        detail.update({"attempt": run.attempts, "ref": dict(result.external_ref)})
        with self._write() as conn:
            conn.execute(update(_runs).where(_runs.c.id == run.id).values(**values))
            self._audit_in(conn, AuditEntry(now, "send", run.target or "-", run.decision_key, run.id, detail))
            row = conn.execute(select(_runs).where(_runs.c.id == run.id)).one()
        return _run(row)

    def move(
        self, run_id: int, state: RunState, actor: str, now: datetime, detail: Mapping[str, Any] | None = None
    ) -> ActionRun:
        kind = {
            RunState.APPROVED: "approval",
            RunState.DENIED: "denial",
            RunState.TIMED_OUT: "timeout",
            RunState.EXPIRED: "expiry",
        }
        with self._write() as conn:
            row = conn.execute(select(_runs).where(_runs.c.id == run_id)).one_or_none()
            if row is None:
                raise KeyError(run_id)
            check_transition(RunState(row.state), state)
            values: dict[str, Any] = {"state": state.value, "updated_at": now}
            if state in (RunState.APPROVED, RunState.DENIED):
                values["decided_by"] = actor
            if detail:
                values["answer"] = {**(row.answer or {}), **detail}
            conn.execute(update(_runs).where(_runs.c.id == run_id).values(**values))
            entry = AuditEntry(now, kind.get(state, "report"), actor, row.decision_key, run_id, {"state": state.value})
            self._audit_in(conn, replace(entry, detail={**entry.detail, **(detail or {})}))
            return _run(conn.execute(select(_runs).where(_runs.c.id == run_id)).one())

    def overdue(self, now: datetime) -> list[ActionRun]:
        r = _runs.c
        states = [s.value for s in AWAITING_REPORT]
        with self._read() as conn:
            rows = conn.execute(
                select(_runs).where(r.state.in_(states), r.report_deadline.is_not(None), r.report_deadline < now)
            ).all()
        return [_run(x) for x in rows]

    def get(self, run_id: int) -> ActionRun | None:
        with self._read() as conn:
            row = conn.execute(select(_runs).where(_runs.c.id == run_id)).one_or_none()
        return _run(row) if row is not None else None

    def runs(self, limit: int = 100, state: str | None = None, service: str | None = None) -> list[ActionRun]:
        stmt = select(_runs).order_by(_runs.c.id.desc()).limit(limit)
        if state is not None:
            stmt = stmt.where(_runs.c.state == state)
        if service is not None:
            stmt = stmt.where(_runs.c.service == service)
        with self._read() as conn:
            return [_run(x) for x in conn.execute(stmt).all()]

    def decisions(self, limit: int = 100, service: str | None = None) -> list[StoredDecision]:
        stmt = select(_decisions).order_by(_decisions.c.id.desc()).limit(limit)
        if service is not None:
            stmt = stmt.where(_decisions.c.service == service)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        out = []
        for x in rows:
            d = Decision(
                x.key,
                x.policy,
                x.action,
                ActionKind(x.kind),
                x.service,
                x.subject,
                x.episode,
                x.target,
                x.decided_at,
                x.why,
                x.payload,
            )
            out.append(StoredDecision(d, x.outcome, x.detail, x.run_id))
        return out

    def audit(self, limit: int = 100, run_id: int | None = None) -> list[AuditEntry]:
        stmt = select(_audit).order_by(_audit.c.id.desc()).limit(limit)
        if run_id is not None:
            stmt = stmt.where(_audit.c.run_id == run_id)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return [AuditEntry(x.at, x.kind, x.actor, x.decision_key, x.run_id, x.detail, int(x.id)) for x in rows]

    def add_audit(self, entry: AuditEntry) -> None:
        with self._write() as conn:
            self._audit_in(conn, entry)

    @staticmethod
    def _audit_in(conn: Any, e: AuditEntry) -> None:
        conn.execute(
            _audit.insert(),
            {
                "at": e.at,
                "kind": e.kind,
                "actor": e.actor,
                "decision_key": e.decision_key,
                "run_id": e.run_id,
                "detail": dict(e.detail),
            },
        )


def _decided(d: Decision, verdict: Verdict) -> dict[str, Any]:
    return {"policy": d.policy, "action": d.action, "subject": d.subject, "outcome": verdict.outcome}
