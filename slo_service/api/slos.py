"""GET /api/v1/slos...: definitions, current status and history for charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from slo_service.api.schemas import SLOOut, slo_out
from slo_service.core.durations import parse_duration
from slo_service.core.model import slo_key
from slo_service.core.ports import EVENTS, SLICES
from slo_service.core.slo_math import sli as sli_of
from slo_service.pipeline.runtime import Runtime

router = APIRouter(prefix="/api/v1/slos", tags=["slos"])
MAX_POINTS = 11_000


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _label_filters(labels: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise HTTPException(422, f"label filter {item!r} must look like key=value")
        out[key] = value
    return out


@router.get("", response_model=list[SLOOut], summary="List SLOs with their current status")
def list_slos(
    request: Request,
    service: Annotated[str | None, Query(description="only this service")] = None,
    label: Annotated[list[str], Query(description="key=value, repeatable; all must match")] = [],  # noqa: B006
) -> list[SLOOut]:
    rt = _runtime(request)
    wanted = _label_filters(label)
    config = rt.config
    out = []
    for slo in config.slos:
        if service is not None and slo.service != service:
            continue
        svc = config.services.get(slo.service)
        labels = {**(svc.labels if svc else {}), **slo.labels}
        if any(labels.get(k) != v for k, v in wanted.items()):
            continue
        out.append(slo_out(slo, config, rt.status(slo.key), _slo_error(rt, slo.key), detail=False))
    return out


def _slo_error(rt: Runtime, key: str) -> str | None:
    for state in rt.sources.values():
        if key in state.slo_errors:
            return state.slo_errors[key]
    return None


@router.get("/{service}/{slo}", response_model=SLOOut, summary="One SLO: definition and current status")
def get_slo(request: Request, service: str, slo: str) -> SLOOut:
    rt = _runtime(request)
    found = rt.config.slo(slo_key(service, slo))
    if found is None:
        raise HTTPException(404, f"no SLO {slo!r} for service {service!r}")
    return slo_out(found, rt.config, rt.status(found.key), _slo_error(rt, found.key))


def _parse_time(value: str | None, default: datetime, name: str) -> datetime:
    if value is None:
        return default
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"{name}: {value!r} is neither RFC 3339 nor Unix seconds") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_step(value: str | None) -> timedelta:
    if value is None:
        return timedelta(minutes=5)
    try:
        return timedelta(seconds=float(value))
    except ValueError:
        pass
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise HTTPException(422, f"step: {exc}") from None


@router.get("/{service}/{slo}/history", summary="SLI per step and evaluation snapshots, for charts")
def history(
    request: Request,
    service: str,
    slo: str,
    start: Annotated[str | None, Query(description="RFC 3339 or Unix seconds; default end - 1d")] = None,
    end: Annotated[str | None, Query(description="RFC 3339 or Unix seconds; default now")] = None,
    step: Annotated[str | None, Query(description="5m, 1h or seconds; default 5m")] = None,
    series: Annotated[str, Query(pattern="^(events|slices)$")] = EVENTS,
) -> dict[str, Any]:
    rt = _runtime(request)
    found = rt.config.slo(slo_key(service, slo))
    if found is None:
        raise HTTPException(404, f"no SLO {slo!r} for service {service!r}")
    end_t = _parse_time(end, rt.clock.now(), "end")
    start_t = _parse_time(start, end_t - timedelta(days=1), "start")
    step_d = _parse_step(step)
    if step_d.total_seconds() < 60:
        raise HTTPException(422, "step: must be at least 1m (history is kept in 1-minute slices)")
    if start_t >= end_t:
        raise HTTPException(422, "start: must be before end")
    points_n = int((end_t - start_t) / step_d) + 1
    if points_n > MAX_POINTS:
        raise HTTPException(422, f"step: {points_n} points requested, at most {MAX_POINTS}; use a larger step")
    if series == SLICES and found.budgeting.slice is None:
        raise HTTPException(422, "series: slices exist only for SLOs with timeslices budgeting")
    slices = rt.store.load_counts([found.key], start_t, end_t, series)
    step_s = step_d.total_seconds()
    buckets: dict[int, list[float]] = {}
    for s in slices:
        idx = int((s.start - start_t).total_seconds() // step_s)
        acc = buckets.setdefault(idx, [0.0, 0.0])
        acc[0] += s.good
        acc[1] += s.total
    points = []
    for i in range(points_n):
        t = start_t + i * step_d
        if t >= end_t:
            break
        good, total = buckets.get(i, [0.0, 0.0])
        points.append({"start": t, "good": good, "total": total, "sli": sli_of(good, total)})
    snapshots = [
        {"at": e.at, "sli": e.sli, "budget_remaining": e.budget_remaining, "burn_rates": dict(e.burn_rates)}
        for e in rt.store.load_evaluations(found.key, start_t, end_t)
    ]
    return {
        "service": service,
        "slo": slo,
        "series": series,
        "start": start_t,
        "end": end_t,
        "step_seconds": step_s,
        "points": points,
        "evaluations": snapshots,
    }
