"""Where an SLO period starts and ends: rolling windows and calendar weeks/months in a local timezone.

Calendar periods start at LOCAL midnight (Monday for weeks, the 1st for months) in `period.timezone`,
so the UTC instant moves with daylight saving time: a Europe/Berlin month starting in winter begins
at 23:00 UTC the day before, in summer at 22:00 UTC. All returned datetimes are in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from slo_service.core.model import CalendarUnit, Period, PeriodKind
from slo_service.core.windows import ceil_seconds, floor_seconds


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # fold=0: for an ambiguous midnight take the first occurrence; a non-existent midnight (a zone
    # that springs forward at 00:00) resolves to the instant the local clock jumps past it.
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _calendar_first_day(period: Period, now: datetime) -> tuple[date, date]:
    """(first local day of the current period, first local day of the next one)."""
    zone = ZoneInfo(period.timezone)
    today = now.astimezone(zone).date()
    if period.unit is CalendarUnit.WEEK:
        monday = today - timedelta(days=today.weekday())
        return monday, monday + timedelta(days=7)
    if period.unit is CalendarUnit.MONTH:
        first = today.replace(day=1)
        nxt = date(first.year + 1, 1, 1) if first.month == 12 else date(first.year, first.month + 1, 1)
        return first, nxt
    raise ValueError(f"calendar period without a unit: {period!r}")


def period_bounds(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """(start, now) of the period that contains `now`, both in UTC.

    Rolling: start = now - length. Calendar: the most recent local Monday 00:00 (week) or local
    1st of the month 00:00 (month) in `period.timezone`.
    """
    now = now.astimezone(UTC)
    if period.kind is PeriodKind.ROLLING:
        if period.length is None:
            raise ValueError("rolling period without a length")
        return now - period.length, now
    first, _ = _calendar_first_day(period, now)
    return _local_midnight(first, ZoneInfo(period.timezone)), now


def period_end(period: Period, now: datetime) -> datetime:
    """When the current period ends: the next local period start (calendar) or `now` (rolling)."""
    now = now.astimezone(UTC)
    if period.kind is PeriodKind.ROLLING:
        return now
    _, nxt = _calendar_first_day(period, now)
    return _local_midnight(nxt, ZoneInfo(period.timezone))


def expected_slices(start: datetime, end: datetime, slice_seconds: int) -> int:
    """How many COMPLETE epoch-aligned slices [k*s, (k+1)*s) lie inside [start, end).

    A slice counts when its start is >= `start` and its end is <= `end`; this is the same rule the
    counts matrix uses to include a slot in a window, so it is the denominator of data coverage.
    """
    if slice_seconds <= 0:
        raise ValueError("slice length must be positive")
    first = -(-ceil_seconds(start) // slice_seconds)  # first slice index starting at or after start
    last = floor_seconds(end) // slice_seconds  # slices before this index end at or before end
    return max(0, last - first)
