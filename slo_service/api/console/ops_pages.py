"""The operations pages of the console: alerts (with Acknowledge and Silence), on-call, drift and sources."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from slo_service.api import alerts as alerts_api
from slo_service.api import drift as drift_api
from slo_service.api import operations
from slo_service.api.alert_schemas import ByBody, SilenceIn
from slo_service.api.console import pages
from slo_service.api.inputs import PathId, PathName
from slo_service.core.alerting.lifecycle import AlertState
from slo_service.core.alerting.ports import AlertQuery
from slo_service.core.oncall.schedule import on_call, shifts
from slo_service.core.routing.silences import silenced_by

SILENCE_DURATIONS = ("1h", "4h", "1d", "7d")

router = APIRouter(include_in_schema=False)


# --- alerts ----------------------------------------------------------------------------------------------------


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    done: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    alerting = request.app.state.alerting
    if alerting is None:
        return pages.render(request, "alerts.html", title="Alerts", configured=False, done=done)
    now = alerting.now()
    episodes = alerting.alerts(AlertQuery(limit=300))
    groups = alerts_api.list_groups(request)
    acked = {fp for g in groups if g.acknowledged_at is not None for fp in g.fingerprints}
    silences = alerting.store.silences(include_expired_after=now)
    rows = []
    for a in episodes:
        if a.state is AlertState.RESOLVED:
            kind = "resolved"
        elif silenced_by(a.labels, silences, now):
            kind = "silenced"
        elif a.fingerprint in acked:
            kind = "acknowledged"
        else:
            kind = a.state.value  # firing or pending
        rows.append((kind, a))
    order = {"firing": 0, "pending": 1, "acknowledged": 2, "silenced": 3, "resolved": 4}
    rows.sort(key=lambda r: (order[r[0]], -r[1].last_evaluated_at.timestamp()))
    timeline = sorted(
        (
            (when, what, a)
            for a in episodes
            for when, what in ((a.active_since, "active"), (a.fired_at, "fired"), (a.resolved_at, "resolved"))
            if when is not None
        ),
        key=lambda e: e[0],
        reverse=True,
    )[:100]
    messages = alerting.store.messages(limit=1000)
    outcomes: dict[tuple[str, str], int] = {}
    for m in messages:
        outcomes[(m.receiver, str(m.status))] = outcomes.get((m.receiver, str(m.status)), 0) + 1
    return pages.render(
        request,
        "alerts.html",
        title="Alerts",
        configured=True,
        rows=rows,
        timeline=timeline,
        outcomes=sorted(outcomes.items()),
        silences=[s for s in silences if not s.expired(now)],
        durations=SILENCE_DURATIONS,
        done=done,
        now=now,
    )


def _actor(request: Request) -> str:
    p = pages.principal(request)
    return p.name if p is not None else "console"


def _back(message: str) -> Response:
    return RedirectResponse(f"/alerts?done={quote(message[:400])}", status_code=303)


@router.post("/alerts/{fingerprint}/ack")
async def ack(request: Request, fingerprint: PathName) -> Response:
    await pages.read_form(request)
    try:
        result = await asyncio.to_thread(alerts_api.ack_alert, request, fingerprint, ByBody(by=_actor(request)))
    except HTTPException as exc:
        return _back(str(exc.detail))
    return _back(f"acknowledged by {result.by}: {len(result.acknowledged_groups)} notification group(s)")


@router.post("/silences")
async def silence(request: Request) -> Response:
    form = await pages.read_form(request)
    matchers = form.get("matchers") or []
    duration = pages.field(form, "duration", "1h")
    if duration not in SILENCE_DURATIONS:
        raise HTTPException(422, f"duration: one of {', '.join(SILENCE_DURATIONS)}")
    if not matchers or len(matchers) > 20:
        raise HTTPException(422, "matchers: give 1 to 20 matchers")
    try:
        body = SilenceIn(
            matchers=matchers, duration=duration, created_by=_actor(request), comment=pages.field(form, "comment")
        )
        created = await asyncio.to_thread(alerts_api.create_silence, request, body)
    except ValidationError as exc:
        raise HTTPException(422, f"matchers: {exc.errors()[0]['msg']}") from None
    except HTTPException as exc:
        return _back(str(exc.detail))
    return _back(f"silenced until {created.ends_at:%Y-%m-%d %H:%M} UTC: {', '.join(created.matchers)}")


# --- on-call, drift, sources ------------------------------------------------------------------------------------


@router.get("/oncall", response_class=HTMLResponse)
def oncall_page(request: Request) -> Response:
    alerting = request.app.state.alerting
    if alerting is None:
        return pages.render(request, "oncall.html", title="On call", schedules=[], groups=[])
    now = alerting.now()
    schedules = []
    for name, schedule in sorted(alerting.config.schedules.items()):
        current = on_call(schedule, now)
        upcoming = [s for s in shifts(schedule, now, now + timedelta(days=30)) if s.start > now]
        nxt = next((s for s in upcoming if s.member != current), upcoming[0] if upcoming else None)
        schedules.append((name, schedule.timezone, current, nxt))
    return pages.render(
        request, "oncall.html", title="On call", schedules=schedules, groups=alerts_api.list_groups(request)
    )


@router.get("/drift", response_class=HTMLResponse)
def drift_page(request: Request) -> Response:
    if request.app.state.drift is None:
        return pages.render(request, "drift.html", title="Drift", monitors=[], runs=[])
    monitors = []
    for m in drift_api.list_monitors(request):
        last = m["last_run"]
        columns = drift_api.get_run(request, last["id"])["columns"] if last and last["id"] is not None else []
        try:
            live = drift_api.live(request, m["name"])
        except HTTPException:
            live = None
        monitors.append((m, last, columns, live))
    runs = drift_api.list_runs(request, monitor=None, status=None, since=None, drifted=None, limit=30)
    return pages.render(request, "drift.html", title="Drift", monitors=monitors, runs=runs)


@router.get("/drift/runs/{run_id}/report")
def drift_report(request: Request, run_id: PathId) -> FileResponse:
    """The Evidently report of a run, for a person logged in to the console (the API's route wants a header)."""
    return drift_api.get_report(request, run_id)


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request) -> Response:
    return pages.render(request, "sources.html", title="Sources", sources=operations.sources(request))
