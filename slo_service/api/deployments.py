"""Deployments from CI, Grafana annotations of them, and deploy freezes ("may this service deploy?")."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from slo_service.api.ci_auth import ci_caller
from slo_service.api.inputs import Instant, Name, PathName, Text, instant_param, query_instant, query_name
from slo_service.core.deployments import DEPLOYMENT_STATUSES, Deployment, Freeze
from slo_service.pipeline.deployments import DeploymentService

router = APIRouter(prefix="/api/v1", tags=["deployments"])
MAX_LIST = 1000
MAX_URL = 2000


def _service(request: Request) -> DeploymentService:
    service: DeploymentService = request.app.state.deployments
    return service


class DeploymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: Name = Field(description="the service deployed (as named in the SLO config)")
    environment: Name = Field(default="production", description="where it was deployed")
    version: Name = Field(description="the version deployed (image tag, release)")
    model_version: Name | None = Field(default=None, description="the model version it serves, if any")
    commit: Name | None = Field(default=None, description="the commit deployed")
    pipeline_url: Annotated[str, Field(max_length=MAX_URL, pattern=r"^https?://[^\x00\s]+$")] | None = Field(
        default=None, description="the CI run that deployed it (http or https URL)"
    )
    time: Instant | None = Field(default=None, description="when it was deployed; default: when received")
    status: str = Field(
        default="succeeded",
        pattern="^(" + "|".join(DEPLOYMENT_STATUSES) + ")$",
        description="succeeded (default), failed or rolled_back: only succeeded ones are rollback targets",
    )


class DeploymentOut(BaseModel):
    id: str
    service: str
    environment: str
    version: str
    model_version: str | None
    commit: str | None
    pipeline_url: str | None
    time: datetime
    status: str


def deployment_out(d: Deployment) -> DeploymentOut:
    """The API calls the deployment's time `time` (what CI sends), the record `at`."""
    fields = asdict(d)
    fields["time"] = fields.pop("at")
    return DeploymentOut(**fields)


@router.post("/deployments", status_code=201, response_model=DeploymentOut, summary="Record a deployment (CI)")
def record_deployment(request: Request, body: DeploymentIn, _: Annotated[str, Depends(ci_caller)]) -> DeploymentOut:
    d = _service(request).record(
        service=body.service,
        environment=body.environment,
        version=body.version,
        model_version=body.model_version,
        commit=body.commit,
        pipeline_url=body.pipeline_url,
        at=body.time,
        status=body.status,
    )
    return deployment_out(d)


@router.get("/deployments", response_model=list[DeploymentOut], summary="Deployments, newest first")
def list_deployments(
    request: Request,
    service: Annotated[str | None, query_name("only this service")] = None,
    environment: Annotated[str | None, query_name("only this environment")] = None,
    since: Annotated[str | None, query_instant("deployed at or after")] = None,
    until: Annotated[str | None, query_instant("deployed before")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100,
) -> list[DeploymentOut]:
    found = _service(request).store.list(
        service, environment, instant_param(since, "since"), instant_param(until, "until"), limit
    )
    return [deployment_out(d) for d in found]


def _epoch_ms(value: str | None, name: str) -> datetime | None:
    """Grafana sends ${__from} / ${__to} as epoch milliseconds; RFC 3339 and Unix seconds work too."""
    if value is not None and value.isdigit() and len(value) >= 12:
        return instant_param(str(int(value) / 1000.0), name)
    return instant_param(value, name)


@router.get("/annotations/deployments", summary="Deployments as Grafana annotations (JSON API / Infinity)")
def deployment_annotations(
    request: Request,
    from_: Annotated[str | None, Query(alias="from", max_length=64, description="epoch ms, Unix s or RFC 3339")] = None,
    to: Annotated[str | None, Query(max_length=64, description="epoch ms, Unix s or RFC 3339; default now")] = None,
    service: Annotated[str | None, query_name("only this service")] = None,
    environment: Annotated[str | None, query_name("only this environment")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = MAX_LIST,
) -> list[dict[str, Any]]:
    svc = _service(request)
    end = _epoch_ms(to, "to") or svc.clock.now()
    start = _epoch_ms(from_, "from") or end - timedelta(days=1)
    if start > end:
        raise HTTPException(422, "from: must not be after to")
    out = []
    for d in svc.store.list(service, environment, start, end + timedelta(microseconds=1), limit):
        text = [f"version {d.version}"]
        text += [f"model {d.model_version}"] if d.model_version else []
        text += [f"commit {d.commit}"] if d.commit else []
        text += [f'<a href="{d.pipeline_url}">pipeline run</a>'] if d.pipeline_url else []
        out.append(
            {
                "time": int(d.at.timestamp() * 1000),
                "timeEnd": int(d.at.timestamp() * 1000),
                "title": f"Deployed {d.service} {d.version} to {d.environment}",
                "text": ", ".join(text),
                "tags": ["deployment", f"service:{d.service}", f"environment:{d.environment}", f"version:{d.version}"],
                "id": d.id,
                "service": d.service,
                "environment": d.environment,
                "version": d.version,
                "status": d.status,
            }
        )
    return out


def _freeze_out(f: Freeze) -> dict[str, Any]:
    return {
        "service": f.service,
        "reason": f.reason,
        "since": f.since,
        "by": f.by,
        "lifted_at": f.lifted_at,
        "lifted_by": f.lifted_by,
    }


class DeployAllowedOut(BaseModel):
    allowed: bool
    service: str
    reason: str | None = Field(default=None, description="why deploys are frozen")
    since: datetime | None = None
    by: str | None = Field(default=None, description="who froze them: a token's name or policy:error-budget")


@router.get(
    "/services/{service}/deploy-allowed",
    response_model=DeployAllowedOut,
    response_model_exclude_none=True,
    summary="May this service deploy? 200 allowed, 423 frozen",
    responses={423: {"model": DeployAllowedOut, "description": "frozen: reason, since, by"}},
)
def deploy_allowed(request: Request, service: PathName, _: Annotated[str, Depends(ci_caller)]) -> JSONResponse:
    frozen = _service(request).deploy_allowed(service)
    if frozen is None:
        return JSONResponse({"allowed": True, "service": service})
    answer = DeployAllowedOut(allowed=False, service=service, reason=frozen.reason, since=frozen.since, by=frozen.by)
    return JSONResponse(answer.model_dump(mode="json"), status_code=423)


class FreezeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=1, description="why deploys are refused, shown to whoever is refused")


@router.post("/services/{service}/freeze", summary="Freeze deploys of a service (write)")
def freeze(request: Request, service: PathName, body: FreezeIn) -> dict[str, Any]:
    by = request.state.principal.name if getattr(request.state, "principal", None) else "anonymous"
    return _freeze_out(_service(request).freeze(service, body.reason, by))


@router.delete("/services/{service}/freeze", summary="Lift the freeze of a service (write)")
def lift(request: Request, service: PathName) -> dict[str, Any]:
    by = request.state.principal.name if getattr(request.state, "principal", None) else "anonymous"
    lifted = _service(request).lift(service, by)
    if lifted is None:
        raise HTTPException(404, f"service {service!r} is not frozen")
    return _freeze_out(lifted)
