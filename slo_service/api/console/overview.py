"""The overview page's rows: every SLO from the API's cached listing, filtered, sorted and paginated.

The rows come from `api.slos.listing`, the snapshot GET /api/v1/slos serves, so the console and the API
show the same budget; a page renders only its own rows (200 by default), so 10,000 SLOs stay cheap.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slo_service.api.console.charts import sparkline
from slo_service.api.schemas import SLOOut
from slo_service.core.alerting.conditions import effective_tiers
from slo_service.core.alerting.lifecycle import Alert
from slo_service.core.conventions import SERVICE_LABEL, SLO_LABEL
from slo_service.core.model import Config, slo_key
from slo_service.generate.prometheus_rules import policy_of
from slo_service.pipeline.runtime import Runtime

PAGE_SIZE = 200
WINDOWS = ("1h", "6h", "1d")
SPARK_POINTS = 48  # one per half hour over 24 h
SPARK_TTL = 300.0  # seconds: stored snapshots are written every 5 minutes (SLO_SERVICE_SNAPSHOT_INTERVAL)
SORTS = ("name", "objective", "sli", "budget", "1h", "6h", "1d", "coverage")


@dataclass(frozen=True)
class Thresholds:
    """The smallest burn-rate factor of the SLO's page tiers, and of all its tiers (None: no such tier)."""

    page: float | None
    any: float | None

    def severity(self, burn: float | None) -> str:
        """Status class of a burn rate: critical at a page threshold, warning at any other, ok below."""
        if burn is None:
            return "nodata"
        if self.page is not None and burn > self.page:
            return "critical"
        if self.any is not None and burn > self.any:
            return "warning"
        return "ok"


@dataclass(frozen=True)
class Row:
    key: str
    service: str
    slo: str
    objective_percent: float
    sli: float | None
    budget: float | None
    burns: dict[str, tuple[float | None, str]]
    coverage: float | None
    firing: int
    status: str
    spark: str
    error: str | None


def thresholds(config: Config, cache: dict[str, Any]) -> dict[str, Thresholds]:
    """Thresholds of every SLO, computed once per configuration (cache is keyed by the config object)."""
    if cache.get("config") is not config:
        out = {}
        for slo in config.slos:
            tiers = effective_tiers(slo, policy_of(config, slo))
            pages = [t.factor for t in tiers if t.severity in ("page", "critical")]
            out[slo.key] = Thresholds(min(pages) if pages else None, min((t.factor for t in tiers), default=None))
        cache.clear()
        cache.update(config=config, thresholds=out)
    found: dict[str, Thresholds] = cache["thresholds"]
    return found


class Sparklines:
    """The last 24 h of each SLO's remaining budget, from the stored evaluation snapshots, kept per SLO for
    SPARK_TTL seconds (the snapshot interval): a refresh of the page re-reads nothing; the live value is
    appended at render time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, list[float | None]]] = {}

    def values(self, rt: Runtime, key: str, now: datetime) -> list[float | None]:
        mono = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and mono - hit[0] < SPARK_TTL:
            return hit[1]
        start = now - timedelta(hours=24)
        step = timedelta(hours=24) / SPARK_POINTS
        points: list[float | None] = [None] * SPARK_POINTS
        for snap in rt.store.load_evaluations(key, start, now):
            i = min(int((snap.at - start) / step), SPARK_POINTS - 1)
            if snap.budget_remaining is not None:
                points[i] = snap.budget_remaining  # the newest snapshot of each half hour wins
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = (mono, points)
        return points


def _labels_match(item: SLOOut, wanted: Mapping[str, str]) -> bool:
    return all(item.labels.get(k) == v for k, v in wanted.items())


def _sort_value(row: Row, sort: str) -> tuple[bool, float, str]:
    value: float | None = {
        "objective": row.objective_percent,
        "sli": row.sli,
        "budget": row.budget,
        "coverage": row.coverage,
    }.get(sort)
    if sort in WINDOWS:
        value = row.burns[sort][0]
    # rows without data sort last in either direction
    return (value is None, 0.0 if value is None else value, row.key)


@dataclass(frozen=True)
class OverviewPage:
    rows: list[Row]
    total: int
    matched: int
    page: int
    pages: int
    services: list[str]


def overview(
    listing: Sequence[SLOOut],
    firing: Sequence[Alert],
    limits: Mapping[str, Thresholds],
    spark: Sparklines,
    rt: Runtime,
    cache: dict[str, Any],
    *,
    service: str | None,
    labels: Mapping[str, str],
    sort: str,
    descending: bool,
    page: int,
    now: datetime,
) -> OverviewPage:
    """One page of rows. Default order: SLOs with firing alerts first, then least budget left."""
    firing_by_slo: dict[str, int] = {}
    for a in firing:
        k = slo_key(a.labels.get(SERVICE_LABEL, ""), a.labels.get(SLO_LABEL, ""))
        firing_by_slo[k] = firing_by_slo.get(k, 0) + 1
    rows = _ordered(listing, limits, cache, service, labels, sort, descending)
    if sort not in SORTS and firing_by_slo:  # firing first, most alerts first, else in the cached order
        on_fire = [_firing_row(r, firing_by_slo[r.key]) for r in rows if r.key in firing_by_slo]
        on_fire.sort(key=lambda r: -r.firing)
        rows = on_fire + [r for r in rows if r.key not in firing_by_slo]
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = [
        _firing_row(r, firing_by_slo[r.key]) if r.key in firing_by_slo and not r.firing else r
        for r in rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    ]
    shown = [_with_spark(r, spark.values(rt, r.key, now)) for r in shown]
    return OverviewPage(shown, len(listing), len(rows), page, pages, cache["services"])


MAX_ORDERS = 64


def base_rows(listing: Sequence[SLOOut], limits: Mapping[str, Thresholds], cache: dict[str, Any]) -> list[Row]:
    """The rows of a listing without firing alerts, built once per listing (a new one comes with each
    evaluation) and kept in `cache` with the filtered and sorted orders asked for since: a page's refresh
    then costs its own rows."""
    if cache.get("listing") is listing and cache.get("limits") is limits:
        rows: list[Row] = cache["rows"]
        return rows
    rows = [_row(item, limits) for item in listing]
    services = sorted({item.service for item in listing})
    # one update: readers see the old listing's entries or the new one's, whole
    cache.update(listing=listing, limits=limits, rows=rows, services=services, orders={})
    return rows


def _ordered(
    listing: Sequence[SLOOut],
    limits: Mapping[str, Thresholds],
    cache: dict[str, Any],
    service: str | None,
    labels: Mapping[str, str],
    sort: str,
    descending: bool,
) -> list[Row]:
    """The listing's rows that pass the filters, in the order asked for (firing alerts aside), cached."""
    base = base_rows(listing, limits, cache)
    orders: dict[tuple[Any, ...], list[Row]] = cache["orders"]
    key = (service, tuple(sorted(labels.items())), sort if sort in SORTS else "", descending)
    found = orders.get(key)
    if found is not None:
        return found
    rows = [
        row
        for item, row in zip(listing, base, strict=True)
        if (service is None or item.service == service) and (not labels or _labels_match(item, labels))
    ]
    if sort == "name":
        rows.sort(key=lambda r: r.key, reverse=descending)
    elif sort in SORTS:
        rows.sort(key=lambda r: _sort_value(r, sort), reverse=descending)
        if descending:  # keep rows without data last
            rows.sort(key=lambda r: _sort_value(r, sort)[0])
    else:
        rows.sort(key=lambda r: (r.budget is None, r.budget if r.budget is not None else 0.0, r.key))
    if len(orders) >= MAX_ORDERS:  # many filter combinations: start over rather than grow
        orders.clear()
    orders[key] = rows
    return rows


def _firing_row(row: Row, count: int) -> Row:
    return dataclasses.replace(row, firing=count, status="critical")


def _with_spark(row: Row, values: list[float | None]) -> Row:
    return dataclasses.replace(row, spark=sparkline([*values, row.budget]))


def _row(item: SLOOut, limits: Mapping[str, Thresholds]) -> Row:
    key = slo_key(item.service, item.slo)
    limit = limits.get(key, Thresholds(None, None))
    st = item.status
    burns: dict[str, tuple[float | None, str]] = {}
    for w in WINDOWS:
        window = st.windows.get(w) if st else None
        burn = window.burn_rate if window else None
        burns[w] = (burn, limit.severity(burn))
    period = st.windows.get("period") if st else None
    budget = st.budget.remaining_ratio if st else None
    if budget is not None and budget <= 0:
        status = "critical"
    elif any(sev == "critical" for _, sev in burns.values()) or any(sev == "warning" for _, sev in burns.values()):
        status = "warning"
    elif st is None or period is None or period.total == 0:
        status = "nodata"
    else:
        status = "ok"
    return Row(
        key=key,
        service=item.service,
        slo=item.slo,
        objective_percent=item.objective_percent,
        sli=st.sli if st else None,
        budget=budget,
        burns=burns,
        coverage=period.data_coverage if period else None,
        firing=0,
        status=status,
        spark="",
        error=item.collection_error,
    )
