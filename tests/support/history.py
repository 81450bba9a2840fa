"""Seed an SLO's stored history before a real service process starts on the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.migrate import upgrade
from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.core.model import slo_key
from slo_service.core.ports import CountIncrement

PAGE_5M_POLICY = """  policies:
    default:
      no_data_after: null
      budget_exhausted: false
      tiers:
        - {name: page-5m, severity: page, long_window: 5m, short_window: 5m, budget_share: 0.001}
"""
"""The `alerting.policies` block of a test config that pages as soon as an outage's first minute closes (a
5-minute burn of 0.1% of the budget), once seed_history gave the 5m window its data."""


def seed_history(database_url: str, service: str, slo: str, minutes: int = 10, per_minute: float = 100) -> None:
    """Healthy 1-minute slices (all good) for the `minutes` before now, the minute in progress and the
    next two, as a service that had been running would hold them. A burn-rate tier is judged only once
    its long window holds 80 % of a short window of data (4 of 5 minutes for a 5m page): real-process
    tests seed that instead of waiting for it. The two minutes ahead keep 4 seeded minutes in the 5m
    window when a loaded machine takes a minute or two to start the service and scrape."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        key = slo_key(service, slo)
        starts = [now + timedelta(minutes=i) for i in range(-minutes, 3)]
        SqlHistoryStore(engine).add_counts([CountIncrement(key, start, per_minute, per_minute) for start in starts])
    finally:
        engine.dispose()
