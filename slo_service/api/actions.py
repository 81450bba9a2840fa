"""Response actions over HTTP: decisions, action runs, approvals, CI's status reports and the audit log."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi import Query as Q
from pydantic import BaseModel, ConfigDict

from slo_service.api.ci_auth import ci_caller
from slo_service.api.inputs import Name, PathId, Text
from slo_service.core.actions.ports import AuditEntry, StoredDecision
from slo_service.core.actions.runs import ActionRun, InvalidTransition, RunState
from slo_service.pipeline.actions import ActionService

router = APIRouter(prefix="/api/v1", tags=["actions"])

Limit = Annotated[int, Q(ge=1, le=1000)]


class RunOut(BaseModel):
    id: int
    decision_key: str
    policy: str
    action: str
    service: str
    target: str | None
    state: str
    created_at: datetime
    updated_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    report_deadline: datetime | None
    decided_by: str | None
    last_error: str | None
    params: dict[str, str]
    payload: dict[str, Any]
    answer: dict[str, Any]


class DecisionOut(BaseModel):
    key: str
    policy: str
    action: str
    service: str
    subject: str
    episode: str
    target: str | None
    decided_at: datetime
    outcome: str  # run | pending_approval | dry_run | cooldown | in_flight
    detail: str
    run_id: int | None
    why: dict[str, Any]
    payload: dict[str, Any]


class AuditOut(BaseModel):
    id: int | None
    at: datetime
    kind: str
    actor: str
    decision_key: str | None
    run_id: int | None
    detail: dict[str, Any]


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Name | None = None  # who decided (default: the token's name)
    reason: Text | None = None


class StatusIn(BaseModel):
    """What CI reports about a run it was asked to carry out."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["running", "succeeded", "failed"]
    url: Text | None = None  # the CI run
    message: Text | None = None


def _service(request: Request) -> ActionService:
    actions: ActionService | None = getattr(request.app.state, "actions", None)
    if actions is None:
        raise HTTPException(404, "response actions are not enabled in this process")
    return actions


def _run_out(run: ActionRun) -> RunOut:
    assert run.id is not None
    return RunOut(
        id=run.id,
        decision_key=run.decision_key,
        policy=run.policy,
        action=run.action,
        service=run.service,
        target=run.target,
        state=run.state.value,
        created_at=run.created_at,
        updated_at=run.updated_at,
        attempts=run.attempts,
        next_attempt_at=run.next_attempt_at,
        sent_at=run.sent_at,
        report_deadline=run.report_deadline,
        decided_by=run.decided_by,
        last_error=run.last_error,
        params=dict(run.params),
        payload=dict(run.payload),
        answer=dict(run.answer),
    )


def _decision_out(s: StoredDecision) -> DecisionOut:
    d = s.decision
    return DecisionOut(
        key=d.key,
        policy=d.policy,
        action=d.action,
        service=d.service,
        subject=d.subject,
        episode=d.episode,
        target=d.target,
        decided_at=d.decided_at,
        outcome=s.outcome,
        detail=s.detail,
        run_id=s.run_id,
        why=dict(d.why),
        payload=dict(d.payload),
    )


def _audit_out(e: AuditEntry) -> AuditOut:
    return AuditOut(
        id=e.id,
        at=e.at,
        kind=e.kind,
        actor=e.actor,
        decision_key=e.decision_key,
        run_id=e.run_id,
        detail=dict(e.detail),
    )


def _who(request: Request, given: str | None) -> str:
    principal = getattr(request.state, "principal", None)
    token = getattr(principal, "name", None)
    if given and token and given != token:
        return f"{given} (token {token})"
    return given or (f"token {token}" if token else "anonymous")


@router.get("/decisions", summary="Decisions of the response policies, newest first, with why each was made")
async def list_decisions(request: Request, service: Name | None = None, limit: Limit = 100) -> list[DecisionOut]:
    actions = _service(request)
    found = await asyncio.to_thread(actions.store.decisions, limit, service)
    return [_decision_out(d) for d in found]


@router.get("/actions", summary="Action runs, newest first")
async def list_actions(
    request: Request,
    state: Annotated[RunState | None, Q()] = None,
    service: Name | None = None,
    limit: Limit = 100,
) -> list[RunOut]:
    actions = _service(request)
    runs = await asyncio.to_thread(actions.store.runs, limit, state.value if state else None, service)
    return [_run_out(r) for r in runs]


@router.get("/actions/{run_id}", summary="One action run")
async def get_action(request: Request, run_id: PathId) -> RunOut:
    run = await asyncio.to_thread(_service(request).store.get, run_id)
    if run is None:
        raise HTTPException(404, f"no action run {run_id}")
    return _run_out(run)


async def _move(request: Request, run_id: int, do: Any, *args: Any) -> RunOut:
    try:
        run = await asyncio.to_thread(do, run_id, *args)
    except KeyError:
        raise HTTPException(404, f"no action run {run_id}") from None
    except InvalidTransition as exc:
        raise HTTPException(409, str(exc)) from None
    return _run_out(run)


@router.post("/actions/{run_id}/approve", summary="Approve a run that waits for approval; it is sent next")
async def approve_action(request: Request, run_id: PathId, body: Annotated[ApprovalIn | None, Body()] = None) -> RunOut:
    actions = _service(request)
    return await _move(request, run_id, actions.approve, _who(request, body.by if body else None))


@router.post("/actions/{run_id}/deny", summary="Deny a run that waits for approval; it is never sent")
async def deny_action(request: Request, run_id: PathId, body: Annotated[ApprovalIn | None, Body()] = None) -> RunOut:
    actions = _service(request)
    who = _who(request, body.by if body else None)
    return await _move(request, run_id, actions.deny, who, body.reason if body else None)


@router.post("/actions/{run_id}/status", summary="CI reports how a run it was asked to carry out went")
async def report_action(
    request: Request, run_id: PathId, body: StatusIn, caller: Annotated[str, Depends(ci_caller)]
) -> RunOut:
    actions = _service(request)
    detail = {k: v for k, v in (("url", body.url), ("message", body.message)) if v}
    return await _move(request, run_id, actions.report, RunState(body.state), caller, detail)


@router.get("/audit", summary="The audit log: every decision, approval, denial, send, report and time-out")
async def list_audit(
    request: Request, run_id: Annotated[int | None, Q(ge=1)] = None, limit: Limit = 100
) -> list[AuditOut]:
    entries = await asyncio.to_thread(_service(request).store.audit, limit, run_id)
    return [_audit_out(e) for e in entries]
