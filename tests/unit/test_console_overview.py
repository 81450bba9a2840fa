"""The overview's rows: order, firing alerts on top, the cached orders, pagination (no app, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from slo_service.api.console.overview import PAGE_SIZE, Sparklines, Thresholds, overview
from slo_service.api.schemas import BudgetOut, SLOOut, StatusOut, WindowOut
from slo_service.core.alerting.lifecycle import Alert, AlertState
from slo_service.core.ports import EvaluationSnapshot

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


class _Store:
    def __init__(self) -> None:
        self.reads: list[str] = []

    def load_evaluations(self, key: str, start: datetime, end: datetime) -> list[EvaluationSnapshot]:
        self.reads.append(key)
        return [EvaluationSnapshot(key, end - timedelta(hours=1), 0.99, 0.5)]


class _Runtime:
    def __init__(self) -> None:
        self.store = _Store()


def slo(i: int, budget: float, burn_1h: float = 0.5) -> SLOOut:
    window = WindowOut(
        window="1h",
        start=NOW,
        end=NOW,
        good=99,
        total=100,
        sli=0.99,
        burn_rate=burn_1h,
        data_coverage=1.0,
        has_data=True,
    )
    status = StatusOut(
        evaluated_at=NOW, period_start=NOW, period_end=NOW, sli=0.99,
        budget=BudgetOut(allowed_bad=1, consumed_bad=1 - budget, consumed_ratio=1 - budget, remaining_ratio=budget),
        windows={"1h": window, "period": window}, data_gaps=[],
    )  # fmt: skip
    return SLOOut(
        service="svc", slo=f"s{i:05d}", description="", objective=0.99, objective_percent=99.0, period={},
        budgeting={}, sli={}, labels={"shard": str(i % 2)}, status=status,
    )  # fmt: skip


def firing(name: str) -> Alert:
    labels = {"alertname": "SLOBurnRateHigh", "service": "svc", "slo": name}
    return Alert("fp-" + name, labels, {}, AlertState.FIRING, NOW, NOW, None, {}, NOW)


def page(listing: list[SLOOut], alerts: list[Alert], cache: dict[str, Any], rt: Any, **query: Any) -> list[str]:
    options: dict[str, Any] = {"service": None, "labels": {}, "sort": "", "descending": False, "page": 1} | query
    limits = {f"svc/{s.slo}": Thresholds(page=14.4, any=1.0) for s in listing}
    view = overview(listing, alerts, limits, Sparklines(), rt, cache, now=NOW, **options)
    return [f"{r.slo}:{r.status}" for r in view.rows]


def test_firing_slos_come_first_in_red_then_the_least_budget_left() -> None:
    listing = [slo(0, 0.9), slo(1, 0.2), slo(2, 0.5, burn_1h=2.0), slo(3, 0.95)]
    rt, cache = _Runtime(), {}
    assert page(listing, [], cache, rt) == ["s00001:ok", "s00002:warning", "s00000:ok", "s00003:ok"]
    # an alert fires for s00003: it jumps to the top, red, though the order was cached
    assert page(listing, [firing("s00003")], cache, rt)[0] == "s00003:critical"
    assert page(listing, [], cache, rt)[0] == "s00001:ok"  # resolved: back in its place
    # a sorted column ignores alerts for the order, but the row stays red
    by_name = page(listing, [firing("s00003")], cache, rt, sort="name", descending=True)
    assert by_name == ["s00003:critical", "s00002:warning", "s00001:ok", "s00000:ok"]


def test_pages_hold_page_size_rows_and_read_sparklines_for_their_own_rows_only() -> None:
    listing = [slo(i, 1 - i / 1000) for i in range(PAGE_SIZE * 2 + 7)]
    rt, cache = _Runtime(), {}
    last = page(listing, [], cache, rt, sort="name", page=3)
    assert last == [f"s{i:05d}:ok" for i in range(PAGE_SIZE * 2, PAGE_SIZE * 2 + 7)]
    assert sorted(rt.store.reads) == [f"svc/s{i:05d}" for i in range(PAGE_SIZE * 2, PAGE_SIZE * 2 + 7)]
    assert len(page(listing, [], cache, rt, labels={"shard": "1"}, page=2)) == (PAGE_SIZE * 2 + 7) // 2 - PAGE_SIZE
