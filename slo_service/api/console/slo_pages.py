"""The SLO pages of the console: the overview of every SLO and one SLO's detail."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from slo_service.api import slos
from slo_service.api.console import pages
from slo_service.api.console.charts import line_chart
from slo_service.api.console.overview import WINDOWS, overview, thresholds
from slo_service.api.inputs import PathName
from slo_service.core.alerting.conditions import effective_tiers
from slo_service.core.alerting.lifecycle import AlertState
from slo_service.core.alerting.ports import AlertQuery
from slo_service.core.durations import format_duration
from slo_service.core.model import slo_key
from slo_service.generate.prometheus_rules import policy_of, slo_rule_groups
from slo_service.pipeline.runtime import Runtime

DETAIL_DASHBOARD = "slo-service-detail"  # uid of the generated Grafana detail dashboard (generate/dashboards.py)

router = APIRouter(include_in_schema=False)


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
