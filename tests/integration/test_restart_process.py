"""A restart loses no events: the service as a real process, SIGKILLed while its target keeps counting.

The target (pytest-httpserver, as in test_service_process.py) serves counters; the service scrapes them
every second, is SIGKILLed, the counters move on by a known amount while it is down, and a new process on
the same database must store exactly the true increase. A downtime of minutes would make the test slow,
so the test moves the stored time of the last counted scrape back by three minutes while the service is
down (the database is all a process knows about its past): the new process then sees a three-minute gap
and must put the events into the minutes of that gap, including minutes from before the first process
started.
"""

from __future__ import annotations

import signal
from datetime import datetime, timedelta
from pathlib import Path

from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, select, update

from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.models import CounterBaselineRow, SliceRow
from slo_service.core.windows import align
from tests.integration.test_service_process import Target, write_config
from tests.support.process import ServiceProcess, run_service, wait_for

KEY = "checkout-model/availability"
SHIFT = timedelta(minutes=3)


class Counters:
    """The target's counters: requests by code and a latency histogram in which every success is fast."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.ok, self.errors = 1000, 10
        self.add(0, 0)

    def add(self, ok: int, errors: int) -> None:
        self.ok += ok
        self.errors += errors
        self.target.serve(self.ok, self.errors, le_01=self.ok, le_025=self.ok, inf=self.ok + self.errors)


def period_total(svc: ServiceProcess) -> float | None:
    status = svc.get(f"/api/v1/slos/{KEY}").json().get("status") or {}
    total = ((status.get("windows") or {}).get("period") or {}).get("total")
    return None if total is None else float(total)


def scraped(svc: ServiceProcess) -> bool:
    """The source has been scraped successfully at least once (its counters are the baseline)."""
    health = svc.get("/api/v1/sources").json()[0]["health"]
    return bool(health and health["up"])


def stored_minutes(engine: Engine) -> dict[int, tuple[float, float]]:
    rows = SliceRow.__table__.c
    query = select(rows.start_epoch, rows.good, rows.total).where(rows.key == KEY, rows.series == "events")
    with engine.connect() as conn:
        return {int(start): (good, total) for start, good, total in conn.execute(query)}


def last_counted(engine: Engine) -> datetime:
    with engine.connect() as conn:
        at = conn.execute(select(CounterBaselineRow.at).where(CounterBaselineRow.slo == KEY)).scalar_one()
    assert isinstance(at, datetime)
    return at


def test_sigkill_and_restart_store_exactly_the_true_increase(
    db_url: str, tmp_path: Path, httpserver: HTTPServer
) -> None:
    target = Target(httpserver)
    counters = Counters(target)
    config = write_config(tmp_path / "slo.yaml", target.url)
    engine = make_engine(db_url)
    try:
        with run_service([config], db_url, tmp_path) as svc:
            # A total of 0 alone can come from an evaluation before the first scrape: then the events added
            # next would be that scrape's baseline, never counted. Wait for a successful scrape as well.
            wait_for(lambda: scraped(svc) and period_total(svc) == 0, what="the baseline scrape")
            counters.add(ok=99, errors=1)
            wait_for(lambda: period_total(svc) == 100, what="100 events counted")
            # the window counts before the store commits: kill only once the minutes (and baselines) are stored
            wait_for(lambda: sum(t for _, t in stored_minutes(engine).values()) == 100, what="100 events stored")
            svc.signal(signal.SIGKILL)
            svc.proc.wait(timeout=10)
        before = stored_minutes(engine)
        assert sum(t for _, t in before.values()) == 100
        first_minute = min(before)

        # while the service is down the target serves 3,000 requests, 30 of them errors
        counters.add(ok=2970, errors=30)
        was = last_counted(engine)
        with engine.begin() as conn:
            conn.execute(update(CounterBaselineRow).values(at=was - SHIFT))

        with run_service([config], db_url, tmp_path) as svc:
            wait_for(lambda: period_total(svc) == 3100, what="the increase across the restart")
            assert svc.get(f"/api/v1/slos/{KEY}").json()["status"]["windows"]["period"]["good"] == 3069
            log = svc.log()
        assert "counting goes on from the stored counter values of 2 SLOs" in log  # availability and latency
        assert "counted the counter increase across a gap of up to 3m" in log

        after = stored_minutes(engine)
        assert sum(t for _, t in after.values()) == 3100
        assert sum(g for g, _ in after.values()) == 3069
        gap_starts, gap_ends = int(align(was - SHIFT, 60).timestamp()), int(align(was, 60).timestamp())
        whole = [m for m in after if gap_starts < m < gap_ends]
        assert len(whole) >= 2, after  # 3 minutes back: at least two whole minutes lie inside the gap
        assert min(whole) < first_minute  # minutes from before the first process started hold events too
        shares = [after[m][1] for m in whole]
        assert max(shares) - min(shares) <= 1 and min(shares) >= 3000 * 60 / 200  # even; the gap is < 200 s
    finally:
        engine.dispose()
