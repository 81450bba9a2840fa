"""The outage log: one line when the database goes, one when it comes back, however many calls fail between;
the history buffer keeps what was collected meanwhile."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from slo_service.adapters.sql.availability import Availability, database_location, masked_url
from slo_service.core.ports import CountIncrement, StoreUnavailable
from slo_service.pipeline.failures import log_failure
from slo_service.pipeline.history import LiveHistory
from tests.support.stores import FlakyStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


START = "database unreachable at db:5432: connection refused; reads answer 503"


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_outage_is_one_line_when_it_starts_and_one_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    availability = Availability("db:5432", "reads answer 503", remind_every=300, quiet=60, clock=clock)
    with caplog.at_level(logging.INFO):
        availability.recovered()  # up already: nothing to say
        for _ in range(500):
            availability.failed("connection refused")
            clock.now += 0.1
        assert not availability.up
        availability.recovered()
        availability.recovered()
    assert availability.up
    assert lines(caplog) == [
        START,
        "database reachable again at db:5432 after 50.0s (failed calls: 500)",
    ]


def test_a_long_outage_is_reminded_every_few_minutes(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    availability = Availability("db:5432", "reads answer 503", remind_every=300, quiet=60, clock=clock)
    with caplog.at_level(logging.INFO):
        for _ in range(14):  # 14 minutes, a failed call every minute
            availability.failed("connection refused")
            clock.now += 60
        availability.recovered()
    assert lines(caplog) == [
        START,
        "database still unreachable at db:5432 after 5m: connection refused (failed calls: 6)",
        "database still unreachable at db:5432 after 10m: connection refused (failed calls: 11)",
        "database reachable again at db:5432 after 14m (failed calls: 14)",
    ]


def test_a_flapping_database_is_counted_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    availability = Availability("db:5432", "reads answer 503", remind_every=300, quiet=60, clock=clock)
    with caplog.at_level(logging.INFO):
        for _ in range(10):  # down 1 s, up 4 s, for 50 s
            availability.failed("connection reset")
            clock.now += 1
            availability.recovered()
            clock.now += 4
        clock.now += 60
        availability.failed("connection refused")
        availability.recovered()
    assert lines(caplog) == [
        "database unreachable at db:5432: connection reset; reads answer 503",
        "database reachable again at db:5432 after 1.0s (failed calls: 1)",
        START + " (9 shorter outages since the last such line)",
        "database reachable again at db:5432 after 0.0s (failed calls: 1)",
    ]


def test_log_failure_keeps_tracebacks_for_bugs_only(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.jobs")
    with caplog.at_level(logging.DEBUG, logger="test.jobs"):
        try:
            raise StoreUnavailable("connection refused", "db:5432")
        except StoreUnavailable:
            log_failure(log, "evaluation of %s failed", "s/a")
        try:
            raise KeyError("bug")
        except KeyError:
            log_failure(log, "evaluation of %s failed", "s/a")
        try:
            raise ValueError("disk full")
        except ValueError:
            log_failure(log, "could not store %d rows", 3, traceback=False)
    got = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert got == [
        ("DEBUG", "evaluation of s/a failed: database unavailable at db:5432: connection refused", False),
        ("ERROR", "evaluation of s/a failed", True),
        ("WARNING", "could not store 3 rows: disk full", False),
    ]


def test_the_database_is_named_without_its_password() -> None:
    url = "postgresql+psycopg://slo:s3cret@db.internal:6432/slo?sslmode=require"
    assert database_location(url) == "db.internal:6432"
    assert database_location("postgresql+psycopg://slo@db/slo") == "db:5432"
    assert database_location("sqlite:////var/lib/slo/slo.db") == "/var/lib/slo/slo.db"
    assert masked_url(url) == "postgresql+psycopg://slo:***@db.internal:6432/slo?sslmode=require"


def test_the_history_buffers_an_outage_and_says_once_what_it_dropped(caplog: pytest.LogCaptureFixture) -> None:
    t0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    store = FlakyStore(lambda: StoreUnavailable("connection refused", "db:5432"))
    history = LiveHistory(store, t0, pending_limit=5)
    store.down = True
    with caplog.at_level(logging.DEBUG, logger="slo_service.pipeline.history"):
        for minute in range(8):  # 8 scrapes, one increment each: 3 more than the buffer holds
            history.record([CountIncrement("s/a", t0 + timedelta(minutes=minute), 1, 1)])
        assert history.pending_writes == 5
        store.down = False
        assert history.flush() == 0
    assert history.dropped_increments == 3
    kept = store.load_counts(None, t0, t0 + timedelta(hours=1))
    assert [s.start for s in kept] == [t0 + timedelta(minutes=m) for m in range(3, 8)]  # the oldest went
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO] == [
        ("WARNING", "pending-write limit reached (5 increments wait for the database): dropping the oldest"),
        ("INFO", "wrote 5 buffered increments to the database; 3 older ones were dropped"),
    ]
