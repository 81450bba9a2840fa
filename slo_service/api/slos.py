"""GET /api/v1/slos...: definitions, current status and history for charts."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import StringConstraints, TypeAdapter

from slo_service.api.inputs import (
    LABEL_FILTER,
    MAX_NAME,
    PathName,
    duration_param,
    instant_param,
    query_instant,
    query_name,
)
from slo_service.api.schemas import SLOOut, slo_out
from slo_service.core.model import slo_key
from slo_service.core.ports import EVENTS, SLICES
from slo_service.core.slo_math import sli as sli_of
from slo_service.pipeline.runtime import Runtime

router = APIRouter(prefix="/api/v1/slos", tags=["slos"])
MAX_POINTS = 11_000
MAX_HISTORY_RANGE = timedelta(days=1096)  # three years: longer than the default retention (400d)
MAX_LABEL_FILTERS = 20


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
    service: Annotated[str | None, query_name("only this service")] = None,
    label: Annotated[
        list[Annotated[str, StringConstraints(max_length=MAX_NAME, pattern=LABEL_FILTER)]],
        Query(
            description=f"key=value, repeatable (at most {MAX_LABEL_FILTERS}); all must match",
            max_length=MAX_LABEL_FILTERS,
        ),
    ] = [],  # noqa: B006
) -> list[SLOOut]:
    rt = _runtime(request)
    wanted = _label_filters(label)
    if service is None and not wanted:  # the whole list: built once per evaluation, however often it is read
        return Response(listing(request.app.state, rt)[1], media_type="application/json")  # type: ignore[return-value]
    config = rt.config
    out = []
    for slo in config.slos:
        if service is not None and slo.service != service:
            continue
        svc = config.services.get(slo.service)
        labels = {**(svc.labels if svc else {}), **slo.labels}
        if any(labels.get(k) != v for k, v in wanted.items()):
            continue
        out.append(slo_out(slo, config, rt.status(slo.key), slo_error(rt, slo.key), detail=False))
    return out


_LISTING = TypeAdapter(list[SLOOut])


def listing(state: Any, rt: Runtime) -> tuple[list[SLOOut], bytes]:
    """Every SLO with its status, and the same as JSON, cached until a new evaluation, config or collection
    error report: with 10,000 SLOs building it takes seconds (100,000 window objects), so concurrent readers
    wait for one build. The console renders from the same snapshot, so it shows what the API says."""
    lock = state.__dict__.setdefault("slo_listing_lock", threading.Lock())
    with lock:
        sources = tuple(st.slo_errors for st in rt.sources.values())
        seen = (rt.last_evaluation, rt.config, *sources)
        cached = getattr(state, "slo_listing", None)
        if (
            cached is not None
            and len(cached[0]) == len(seen)
            and all(a is b for a, b in zip(cached[0], seen, strict=True))
        ):
            return cached[1], cached[2]
        config = rt.config
        out = [slo_out(slo, config, rt.status(slo.key), slo_error(rt, slo.key), detail=False) for slo in config.slos]
        body = _LISTING.dump_json(out)
        state.slo_listing = (seen, out, body)
        return out, body


def slo_error(rt: Runtime, key: str) -> str | None:
    """The last collection error of the SLO's source about this SLO, if any."""
    for state in rt.sources.values():
        if key in state.slo_errors:
            return state.slo_errors[key]
    return None


@router.get("/{service}/{slo}", response_model=SLOOut, summary="One SLO: definition and current status")
def get_slo(request: Request, service: PathName, slo: PathName) -> SLOOut:
    rt = _runtime(request)
    found = rt.config.slo(slo_key(service, slo))
    if found is None:
        raise HTTPException(404, f"no SLO {slo!r} for service {service!r}")
    return slo_out(found, rt.config, rt.status(found.key), slo_error(rt, found.key))


@router.get("/{service}/{slo}/history", summary="SLI per step and evaluation snapshots, for charts")
def history(
    request: Request,
    service: PathName,
    slo: PathName,
    start: Annotated[str | None, query_instant("default end - 1d")] = None,
    end: Annotated[str | None, query_instant("default now")] = None,
    step: Annotated[
        str | None,
        Query(max_length=40, description=f"5m, 1h or seconds, 1m to {MAX_HISTORY_RANGE.days}d; default 5m"),
    ] = None,
    series: Annotated[str, Query(pattern="^(events|slices)$")] = EVENTS,
) -> dict[str, Any]:
    rt = _runtime(request)
    found = rt.config.slo(slo_key(service, slo))
    if found is None:
        raise HTTPException(404, f"no SLO {slo!r} for service {service!r}")
    end_t = instant_param(end, "end") or rt.clock.now()
    start_t = instant_param(start, "start") or end_t - timedelta(days=1)
    # at least 1m: history is kept in 1-minute slices
    step_d = duration_param(step or "5m", "step", timedelta(minutes=1), MAX_HISTORY_RANGE)
    if start_t >= end_t:
        raise HTTPException(422, "start: must be before end")
    if end_t - start_t > MAX_HISTORY_RANGE:
        raise HTTPException(422, f"start: the range is at most {MAX_HISTORY_RANGE.days} days")
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
