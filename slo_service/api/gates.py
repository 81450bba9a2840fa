"""Quality gates over HTTP: create (CI), poll, wait, and the status-code variant for `curl --fail`,
Flagger's load tester and Argo Rollouts' `web` metric provider (docs/pipelines.md)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from slo_service.api.ci_auth import ci_caller
from slo_service.api.inputs import Instant, Name, PathName, duration_param
from slo_service.core.gate_spec import GateSpecError
from slo_service.core.gates import GateStatus, StoredGate
from slo_service.pipeline.gates import MAX_WINDOW, MIN_WINDOW, GateRequest, GateService

router = APIRouter(prefix="/api/v1/gates", tags=["gates"])
MAX_WAIT_SECONDS = 900
STATUS_CODES = {
    GateStatus.PASS: 200,
    GateStatus.WARNING: 200,
    GateStatus.PENDING: 202,
    GateStatus.FAIL: 412,
    GateStatus.INCONCLUSIVE: 424,
}
"""?status_codes=true: what each answer is, for clients that only see the status code (curl --fail)."""


def _gates(request: Request) -> GateService:
    gates: GateService = request.app.state.gates
    return gates


class GateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deployment_id: Name | None = Field(default=None, description="the deployment to check (POST /deployments' id)")
    service: Name | None = Field(default=None, description="instead of deployment_id: the service and version")
    version: Name | None = None
    environment: Name | None = Field(default=None, description="with service and version: narrows the lookup")
    start: Instant | None = Field(default=None, description="verification window start; default: the deploy time")
    duration: Annotated[str, Field(max_length=40)] = Field(default="30m", description="verification window length")
    objectives: list[str | dict[str, Any]] | None = Field(
        default=None,
        max_length=500,
        description="SLOs to check: names, or {slo, indicator, pass, warning, key, weight}; default: every SLO "
        "of the service with its objective as the pass criterion",
    )
    monitors: list[str | dict[str, Any]] = Field(
        default_factory=list, max_length=500, description="drift monitors: names, or {monitor, key, weight}"
    )
    pass_threshold: float = Field(default=90.0, description="total score (percent) at or above which the gate passes")
    warning_threshold: float = Field(default=75.0, description="total score (percent) at or above which it warns")


class GateOut(BaseModel):
    """A gate's answer (more fields: see docs/api.md#quality-gates)."""

    model_config = ConfigDict(extra="allow")

    id: str
    result: str = Field(description="pending, pass, warning, fail or inconclusive")
    score: float | None = Field(description="0 to 1; null while pending or without data")
    reason: str | None


_ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {"model": GateOut, "description": "with status_codes=true: pending"},
    412: {"model": GateOut, "description": "with status_codes=true: the gate failed"},
    424: {"model": GateOut, "description": "with status_codes=true: inconclusive (no data)"},
}


def gate_out(gate: StoredGate) -> dict[str, Any]:
    """The answer: `result` and `score` first (Argo Rollouts reads `$.result`), then the details."""
    result = dict(gate.result or {})
    spec = gate.spec
    return {
        "id": gate.id,
        "result": str(gate.status),
        "score": result.get("score"),
        "reason": result.get("reason"),
        "service": gate.service,
        "environment": spec.get("environment"),
        "version": spec.get("version"),
        "deployment_id": gate.deployment_id,
        "window": {"start": gate.window_start.isoformat(), "end": gate.window_end.isoformat()},
        "baseline": {"start": spec.get("baseline_start"), "end": spec.get("baseline_end")},
        "pass_threshold": spec.get("pass_threshold"),
        "warning_threshold": spec.get("warning_threshold"),
        "created_at": gate.created_at.isoformat(),
        "evaluated_at": gate.evaluated_at.isoformat() if gate.evaluated_at else None,
        "objectives": result.get("objectives", spec.get("objectives", [])),
        "monitors": spec.get("monitors", []),
    }


def _answer(gate: StoredGate, status_codes: bool, created: bool = False) -> JSONResponse:
    code = STATUS_CODES[gate.status] if status_codes else (201 if created else 200)
    return JSONResponse(gate_out(gate), status_code=code, headers={"Location": f"/api/v1/gates/{gate.id}"})


WaitParam = Annotated[
    float, Query(ge=0, le=MAX_WAIT_SECONDS, description="seconds to wait for an answer while pending")
]
StatusCodesParam = Annotated[bool, Query(description="200 pass/warning, 412 fail, 424 inconclusive, 202 pending")]


async def _decided(gates: GateService, gate_id: str, wait: float) -> StoredGate:
    """The gate once decided, or as it is when `wait` seconds have passed."""
    deadline = time.monotonic() + wait
    while True:
        gate = await run_in_threadpool(gates.get, gate_id)
        if gate is None:
            raise HTTPException(404, f"no gate {gate_id!r}")
        left = deadline - time.monotonic()
        if gate.status is not GateStatus.PENDING or left <= 0:
            return gate
        # Sleep until the window ends (then the read evaluates it), re-reading at least every 5 s: another
        # replica may answer first, and the wait may end before the window.
        until_end = (gate.window_end - gates.clock.now()) / timedelta(seconds=1)
        await asyncio.sleep(max(0.05, min(left, 5.0, until_end + 0.01)))


@router.post(
    "",
    status_code=201,
    response_model=GateOut,
    responses={200: {"model": GateOut, "description": "with status_codes=true: pass or warning"}, **_ANSWERS},
    summary="Create a quality gate for a deployment (CI); ?wait= blocks",
)
async def create_gate(
    request: Request,
    body: GateIn,
    _: Annotated[str, Depends(ci_caller)],
    wait: WaitParam = 0,
    status_codes: StatusCodesParam = False,
) -> JSONResponse:
    duration = duration_param(body.duration, "duration", MIN_WINDOW, MAX_WINDOW)
    checks = body.model_dump(include={"objectives", "monitors", "pass_threshold", "warning_threshold"})
    if body.objectives is None:
        checks.pop("objectives")
    try:
        gate = await run_in_threadpool(
            _gates(request).create,
            GateRequest(
                checks=checks,
                duration=duration,
                deployment_id=body.deployment_id,
                service=body.service,
                version=body.version,
                environment=body.environment,
                start=body.start,
            ),
        )
    except GateSpecError as exc:
        raise HTTPException(422, str(exc)) from None
    return _answer(await _decided(_gates(request), gate.id, wait), status_codes, created=True)


@router.get(
    "/{gate_id}",
    response_model=GateOut,
    responses=_ANSWERS,
    summary="A gate's answer: pending until its window has passed; ?wait= blocks",
)
async def get_gate(
    request: Request,
    gate_id: PathName,
    _: Annotated[str, Depends(ci_caller)],
    wait: WaitParam = 0,
    status_codes: StatusCodesParam = False,
) -> JSONResponse:
    return _answer(await _decided(_gates(request), gate_id, wait), status_codes)
