"""The web console: server-rendered pages over the same calls the JSON API makes (an edge adapter of api/).

Each page calls the API's own route functions or the cached SLO listing, so there is one way to read and to
act; api/auth.py authorises every console route as it does the API's.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import yaml
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from slo_service.api import alerts as alerts_api
from slo_service.api import drift as drift_api
from slo_service.api import operations, slos
from slo_service.api.alert_schemas import ByBody, SilenceIn
from slo_service.api.console import pages
from slo_service.api.console.charts import line_chart
from slo_service.api.console.overview import WINDOWS, Sparklines, overview, thresholds
from slo_service.api.inputs import PathId, PathName
from slo_service.core.alerting.conditions import effective_tiers
from slo_service.core.alerting.lifecycle import AlertState
from slo_service.core.alerting.ports import AlertQuery
from slo_service.core.durations import format_duration
from slo_service.core.model import slo_key
from slo_service.core.oncall.schedule import on_call, shifts
from slo_service.core.routing.silences import silenced_by
from slo_service.core.tokens import Scope, TokenExpired
from slo_service.generate.prometheus_rules import policy_of, slo_rule_groups
from slo_service.pipeline.runtime import Runtime

STATIC = Path(__file__).resolve().parent.parent.parent / "static"
DETAIL_DASHBOARD = "slo-service-detail"  # uid of the generated Grafana detail dashboard (generate/dashboards.py)
SILENCE_DURATIONS = ("1h", "4h", "1d", "7d")

router = APIRouter(include_in_schema=False)


def install_console(app: FastAPI, grafana_url: str | None = None) -> None:
    """Add the console's pages, its static files and its login redirect to `app`."""
    app.state.grafana_url = grafana_url.rstrip("/") if grafana_url else None
    app.state.console_sparklines = Sparklines()
    app.state.console_thresholds = {}
    app.state.console_rows = {}
    app.state.page_error = pages.console_error
    app.include_router(router)
    app.mount("/static/console", StaticFiles(directory=STATIC), name="console-static")


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _firing(request: Request) -> list[Any]:
    alerting = request.app.state.alerting
    return [] if alerting is None else alerting.alerts(AlertQuery(state=AlertState.FIRING, limit=10_000))


# --- overview and detail -----------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def overview_page(
    request: Request,
    service: Annotated[str, Query(max_length=200)] = "",
    label: Annotated[str, Query(max_length=1000, description="key=value[,key=value]")] = "",
    sort: Annotated[str, Query(max_length=20)] = "",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    rt = _runtime(request)
    wanted: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in label.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise HTTPException(422, f"label: {item!r} must look like key=value")
        wanted[key.strip()] = value.strip()
    listing, _ = slos.listing(request.app.state, rt)
    firing = _firing(request)
    result = overview(
        listing,
        firing,
        thresholds(rt.config, request.app.state.console_thresholds),
        request.app.state.console_sparklines,
        rt,
        request.app.state.console_rows,
        service=service or None,
        labels=wanted,
        sort=sort,
        descending=order == "desc",
        page=page,
        now=rt.clock.now(),
    )
    query = {"service": service, "label": label}
    return pages.render(
        request,
        "overview.html",
        title="SLOs",
        view=result,
        firing=firing,
        query=query,
        sort=sort,
        order=order,
        windows=WINDOWS,
        evaluated_at=max((s.evaluated_at for s in rt.statuses.values()), default=None),
    )


@router.get("/slos/{service}/{slo}", response_class=HTMLResponse)
def detail_page(request: Request, service: PathName, slo: PathName) -> Response:
    rt = _runtime(request)
    found = rt.config.slo(slo_key(service, slo))
    out = slos.get_slo(request, service, slo)  # 404 naming the SLO when it does not exist
    assert found is not None
    now = rt.clock.now()
    st = out.status
    start = st.period_start if st else now - timedelta(days=1)
    span = max(now - start, timedelta(minutes=2))
    step = max(int(span.total_seconds() // 240 // 60) * 60, 60)
    hist = slos.history(
        request, service, slo, start=start.isoformat(), end=now.isoformat(), step=str(step), series="events"
    )
    snaps = hist["evaluations"]
    tiers = effective_tiers(found, policy_of(rt.config, found))
    budget_chart = line_chart(
        [(e["at"], e["budget_remaining"]) for e in snaps],
        start=start,
        end=now,
        lines=[("budget exhausted", 0.0, "critical")],
        ceiling=1.0,
    )
    day_ago = now - timedelta(days=1)
    recent = [e for e in snaps if e["at"] >= day_ago]
    windows = sorted({t.long_window for t in tiers} | {t.short_window for t in tiers})
    burn_charts = []
    for w in windows:
        name = format_duration(w)
        lines = [
            (f"{t.name} ({t.severity}) > {t.factor:g}x", t.factor, "critical" if t.severity == "page" else "warning")
            for t in tiers
            if w in (t.long_window, t.short_window)
        ]
        series = [(e["at"], e["burn_rates"].get(name)) for e in recent]
        burn_charts.append((name, line_chart(series, start=day_ago, end=now, lines=lines, floor=0.0)))
    rules = [
        (group["name"], [r.get("record") or r.get("alert") for r in group["rules"]])
        for group in slo_rule_groups(rt.config, found)
    ]
    definition = {
        "service": out.service,
        "name": out.slo,
        "description": out.description or None,
        "objective": out.objective_percent,
        "period": out.period,
        "budgeting": out.budgeting,
        "sli": {k: v for k, v in out.sli.items() if v is not None},
        "labels": out.labels or None,
    }
    snippet = yaml.safe_dump({k: v for k, v in definition.items() if v is not None}, sort_keys=False)
    grafana = request.app.state.grafana_url
    dashboard = f"{grafana}/d/{DETAIL_DASHBOARD}/?var-service={service}&var-slo={slo}" if grafana else None
    return pages.render(
        request,
        "detail.html",
        title=f"{service}/{slo}",
        slo=out,
        tiers=tiers,
        budget_chart=budget_chart,
        burn_charts=burn_charts,
        history=list(reversed(snaps))[:50],
        rules=rules,
        snippet=snippet,
        dashboard=dashboard,
    )


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


# --- login -----------------------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str, Query(max_length=2000)] = "/") -> Response:
    return pages.render(request, "login.html", title="Log in", next=pages.safe_next(next), problem=None, poll=False)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await pages.read_form(request)
    token = pages.field(form, "token").strip()
    target = pages.safe_next(pages.field(form, "next", "/", 2000))
    problem = None
    try:  # the database being down is the app's 503, as for the API
        who = await asyncio.to_thread(request.app.state.auth.verifier.verify, token) if token else None
    except TokenExpired as exc:
        who, problem = None, str(exc)
    if who is None or not who.allowed((Scope.READ,)):
        problem = problem or "token: unknown, revoked or without the read scope"
        return pages.render(
            request, "login.html", status_code=422, title="Log in", next=target, problem=problem, poll=False
        )
    return pages.log_in(request, token, target)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await pages.read_form(request)
    return pages.log_out()
