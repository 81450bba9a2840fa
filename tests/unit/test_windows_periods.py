"""Alert windows, epoch alignment and period bounds, including calendar periods across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_service.core.model import CalendarUnit, Period
from slo_service.core.periods import expected_slices, period_bounds, period_end
from slo_service.core.windows import ALERT_WINDOWS, PERIOD_WINDOW, align


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_alert_windows_in_order() -> None:
    assert list(ALERT_WINDOWS) == ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    assert ALERT_WINDOWS["3d"] == timedelta(days=3)
    assert PERIOD_WINDOW == "period"


def test_align_floors_to_epoch_multiples_in_utc() -> None:
    assert align(utc(2026, 3, 1, 12, 7, 59), 60) == utc(2026, 3, 1, 12, 7)
    assert align(utc(2026, 3, 1, 12, 7, 59), 300) == utc(2026, 3, 1, 12, 5)
    assert align(utc(2026, 3, 1, 12, 7, 59), 3600) == utc(2026, 3, 1, 12)
    berlin_offset = datetime(2026, 3, 1, 13, 7, 30, tzinfo=timezone(timedelta(hours=1)))
    out = align(berlin_offset, 60)
    assert out == utc(2026, 3, 1, 12, 7) and out.tzinfo == UTC
    assert align(utc(1969, 12, 31, 23, 59, 30), 60) == utc(1969, 12, 31, 23, 59)
    with pytest.raises(ValueError):
        align(utc(2026, 1, 1), 0)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=4_000_000_000), st.sampled_from([1, 60, 300, 3600, 86400]))
def test_align_property(seconds: int, step: int) -> None:
    t = datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=seconds % 997)
    a = align(t, step)
    assert a <= t < a + timedelta(seconds=step)
    assert int(a.timestamp()) % step == 0


def test_rolling_period() -> None:
    now = utc(2026, 3, 29, 12, 30)
    p = Period.rolling(timedelta(days=28))
    assert period_bounds(p, now) == (now - timedelta(days=28), now)
    assert period_end(p, now) == now


# Europe/Berlin: CET (UTC+1) -> CEST (UTC+2) on Sunday 2026-03-29, back on Sunday 2026-10-25.
@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        # week of Monday 2026-03-23 starts in winter time, ends in summer time: 7d - 1h long
        (utc(2026, 3, 29, 12), utc(2026, 3, 22, 23), utc(2026, 3, 29, 22)),
        (utc(2026, 3, 29, 21, 59), utc(2026, 3, 22, 23), utc(2026, 3, 29, 22)),
        (utc(2026, 3, 29, 22), utc(2026, 3, 29, 22), utc(2026, 4, 5, 22)),
        # week of Monday 2026-10-19 starts in summer time, ends in winter time: 7d + 1h long
        (utc(2026, 10, 25, 12), utc(2026, 10, 18, 22), utc(2026, 10, 25, 23)),
        (utc(2026, 10, 25, 22, 30), utc(2026, 10, 18, 22), utc(2026, 10, 25, 23)),
        (utc(2026, 10, 25, 23), utc(2026, 10, 25, 23), utc(2026, 11, 1, 23)),
    ],
)
def test_berlin_week_across_dst(now: datetime, start: datetime, end: datetime) -> None:
    p = Period.calendar(CalendarUnit.WEEK, "Europe/Berlin")
    assert period_bounds(p, now) == (start, now)
    assert period_end(p, now) == end


def test_berlin_month_across_dst() -> None:
    p = Period.calendar(CalendarUnit.MONTH, "Europe/Berlin")
    now = utc(2026, 3, 15)
    assert period_bounds(p, now)[0] == utc(2026, 2, 28, 23)  # 1 March 00:00 CET
    assert period_end(p, now) == utc(2026, 3, 31, 22)  # 1 April 00:00 CEST
    # March in Berlin has one hour less: 743 hourly slices
    assert expected_slices(utc(2026, 2, 28, 23), utc(2026, 3, 31, 22), 3600) == 31 * 24 - 1
    now = utc(2026, 10, 31, 23, 30)  # already 1 November 00:30 CET
    assert period_bounds(p, now)[0] == utc(2026, 10, 31, 23)
    assert period_end(p, utc(2026, 10, 31, 22, 59)) == utc(2026, 10, 31, 23)
    assert period_bounds(p, utc(2026, 10, 31, 22, 59))[0] == utc(2026, 9, 30, 22)


# America/New_York: EST (UTC-5) -> EDT (UTC-4) on 2026-03-08, back on 2026-11-01.
def test_new_york_month_and_week_across_dst() -> None:
    month = Period.calendar(CalendarUnit.MONTH, "America/New_York")
    assert period_bounds(month, utc(2026, 3, 20))[0] == utc(2026, 3, 1, 5)  # 00:00 EST
    assert period_end(month, utc(2026, 3, 20)) == utc(2026, 4, 1, 4)  # 00:00 EDT
    assert period_bounds(month, utc(2026, 11, 20))[0] == utc(2026, 11, 1, 4)  # 00:00 EDT
    assert period_end(month, utc(2026, 11, 20)) == utc(2026, 12, 1, 5)
    # 2026-04-01 03:59 UTC is still 31 March 23:59 EDT
    assert period_bounds(month, utc(2026, 4, 1, 3, 59))[0] == utc(2026, 3, 1, 5)
    week = Period.calendar(CalendarUnit.WEEK, "America/New_York")
    # Sunday 2026-03-08 (DST starts 02:00 local): the week began Monday 2026-03-02 00:00 EST
    assert period_bounds(week, utc(2026, 3, 8, 12)) == (utc(2026, 3, 2, 5), utc(2026, 3, 8, 12))
    assert period_end(week, utc(2026, 3, 8, 12)) == utc(2026, 3, 9, 4)
    # Sunday 2026-11-01 (DST ends): week began Monday 2026-10-26 00:00 EDT, ends Monday 00:00 EST
    assert period_bounds(week, utc(2026, 11, 1, 12))[0] == utc(2026, 10, 26, 4)
    assert period_end(week, utc(2026, 11, 1, 12)) == utc(2026, 11, 2, 5)


def test_month_start_in_utc_plus_and_utc_minus_zones() -> None:
    tokyo = Period.calendar(CalendarUnit.MONTH, "Asia/Tokyo")  # UTC+9, local date ahead of UTC
    now = utc(2026, 3, 31, 16)  # 1 April 01:00 JST
    assert period_bounds(tokyo, now)[0] == utc(2026, 3, 31, 15)
    assert period_end(tokyo, now) == utc(2026, 4, 30, 15)
    la = Period.calendar(CalendarUnit.MONTH, "America/Los_Angeles")  # UTC-8/-7, local date behind
    now = utc(2026, 4, 1, 5)  # still 31 March 22:00 PDT
    assert period_bounds(la, now)[0] == utc(2026, 3, 1, 8)  # 1 March 00:00 PST
    assert period_end(la, now) == utc(2026, 4, 1, 7)  # 1 April 00:00 PDT
    december = utc(2026, 12, 31, 23)
    assert period_end(Period.calendar(CalendarUnit.MONTH), december) == utc(2027, 1, 1)


def test_week_starts_monday() -> None:
    p = Period.calendar(CalendarUnit.WEEK)  # UTC
    monday = utc(2026, 11, 23)
    assert monday.weekday() == 0
    for hours in range(0, 7 * 24, 5):
        now = monday + timedelta(hours=hours, minutes=17)
        assert period_bounds(p, now)[0] == monday
        assert period_end(p, now) == monday + timedelta(days=7)
    assert period_bounds(p, monday - timedelta(seconds=1))[0] == monday - timedelta(days=7)


@settings(max_examples=150, deadline=None)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]),
    st.sampled_from([CalendarUnit.WEEK, CalendarUnit.MONTH]),
)
def test_calendar_period_contains_now_and_starts_at_local_midnight(now: datetime, tz: str, unit: CalendarUnit) -> None:
    from zoneinfo import ZoneInfo

    p = Period.calendar(unit, tz)
    start, end_now = period_bounds(p, now)
    end = period_end(p, now)
    assert end_now == now
    assert start <= now < end
    local = start.astimezone(ZoneInfo(tz))
    assert (local.hour, local.minute) == (0, 0)
    if unit is CalendarUnit.WEEK:
        assert local.weekday() == 0
        assert timedelta(days=7) - timedelta(hours=2) <= end - start <= timedelta(days=7, hours=2)
    else:
        assert local.day == 1
        assert timedelta(days=28) - timedelta(hours=2) <= end - start <= p.max_length + timedelta(hours=2)


def test_expected_slices_counts_complete_aligned_slices() -> None:
    t = utc(2026, 3, 1, 12)
    assert expected_slices(t, t + timedelta(minutes=5), 60) == 5
    assert expected_slices(t + timedelta(seconds=30), t + timedelta(minutes=5, seconds=30), 60) == 4
    assert expected_slices(t, t + timedelta(days=30), 300) == 30 * 288
    assert expected_slices(t, t, 60) == 0
    assert expected_slices(t + timedelta(hours=1), t, 60) == 0
    with pytest.raises(ValueError):
        expected_slices(t, t, 0)
