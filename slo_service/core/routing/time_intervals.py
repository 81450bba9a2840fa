"""Alertmanager `time_intervals`: times, weekdays, days_of_month, months, years and location.

A `TimeInterval` is one entry of a named time interval's list; a named interval matches when any
of its entries does (`in_intervals`). An empty field matches everything, as in Alertmanager.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_HHMM = re.compile(r"^(\d{2}):(\d{2})$")

Range = tuple[int, int]


@dataclass(frozen=True)
class TimeInterval:
    """One time-interval entry. Ranges are inclusive except `times`, whose end is exclusive.

    times: minutes of the day, 0..1440. weekdays: 0 = Monday .. 6 = Sunday (Python's numbering).
    days_of_month: 1..31 or -31..-1 (from the end of the month). months: 1..12. location: IANA name.
    """

    times: tuple[Range, ...] = ()
    weekdays: tuple[Range, ...] = ()
    days_of_month: tuple[Range, ...] = ()
    months: tuple[Range, ...] = ()
    years: tuple[Range, ...] = ()
    location: str = "UTC"

    def __post_init__(self) -> None:
        _zone(self.location)

    def contains(self, at: datetime) -> bool:
        if at.tzinfo is None:
            raise ValueError("TimeInterval.contains needs an aware datetime")
        t = at.astimezone(_zone(self.location))
        if self.times:
            minute = t.hour * 60 + t.minute
            if not any(a <= minute < b for a, b in self.times):
                return False
        if self.weekdays and not any(a <= t.weekday() <= b for a, b in self.weekdays):
            return False
        if self.days_of_month and not _day_matches(self.days_of_month, t):
            return False
        if self.months and not any(a <= t.month <= b for a, b in self.months):
            return False
        return not (self.years and not any(a <= t.year <= b for a, b in self.years))


def _day_matches(ranges: tuple[Range, ...], t: datetime) -> bool:
    days = calendar.monthrange(t.year, t.month)[1]
    for begin, end in ranges:
        b = days + begin + 1 if begin < 0 else begin
        e = days + end + 1 if end < 0 else end
        if b > days:  # e.g. 31 in a 30-day month: this range has no day in this month
            continue
        e = min(e, days)
        if b <= t.day <= e:
            return True
    return False


_ZONES: dict[str, ZoneInfo] = {}


def _zone(name: str) -> ZoneInfo:
    zone = _ZONES.get(name)
    if zone is None:
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r} in location") from exc
        _ZONES[name] = zone
    return zone


def in_intervals(intervals: Sequence[TimeInterval], at: datetime) -> bool:
    """True when `at` falls in any of the intervals (an empty sequence contains nothing)."""
    return any(i.contains(at) for i in intervals)


def in_named_intervals(names: Sequence[str], defined: Mapping[str, Sequence[TimeInterval]], at: datetime) -> bool:
    """True when `at` is in any of the named intervals; an unknown name raises KeyError."""
    for name in names:
        if name not in defined:
            raise KeyError(f"time interval {name!r} is not defined")
        if in_intervals(defined[name], at):
            return True
    return False


# ---------------------------------------------------------------- parsing


def parse_time_interval(spec: Mapping[str, Any]) -> TimeInterval:
    """Parse one Alertmanager time-interval entry (a dict as loaded from YAML); ValueError on any problem."""
    known = {"times", "weekdays", "days_of_month", "months", "years", "location"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f"unknown time interval field(s) {unknown}; expected some of {sorted(known)}")
    times = tuple(_parse_time_range(t) for t in _list(spec, "times"))
    weekdays = tuple(_parse_range(s, "weekdays", _weekday, 0, 6) for s in _list(spec, "weekdays"))
    days = tuple(_parse_day_range(s) for s in _list(spec, "days_of_month"))
    months = tuple(_parse_range(s, "months", _month, 1, 12) for s in _list(spec, "months"))
    years = tuple(_parse_range(s, "years", _year, 1, 9999) for s in _list(spec, "years"))
    location = spec.get("location", "UTC")
    if not isinstance(location, str) or not location:
        raise ValueError(f"location must be an IANA time zone name, got {location!r}")
    return TimeInterval(times, weekdays, days, months, years, location)


def parse_named_time_intervals(items: Sequence[Mapping[str, Any]]) -> dict[str, tuple[TimeInterval, ...]]:
    """Parse Alertmanager's top-level `time_intervals:` list of `{name, time_intervals: [...]}`."""
    out: dict[str, tuple[TimeInterval, ...]] = {}
    for item in items:
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"time interval needs a non-empty name, got {name!r}")
        if name in out:
            raise ValueError(f"time interval {name!r} is defined twice")
        entries = item.get("time_intervals", [])
        if not isinstance(entries, list):
            raise ValueError(f"time interval {name!r}: time_intervals must be a list")
        try:
            out[name] = tuple(parse_time_interval(e) for e in entries)
        except ValueError as exc:
            raise ValueError(f"time interval {name!r}: {exc}") from exc
    return out


def _list(spec: Mapping[str, Any], key: str) -> list[Any]:
    value = spec.get(key) or []
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list, got {value!r}")
    return value


def _minutes(text: Any, what: str) -> int:
    m = _HHMM.match(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{what} {text!r} is not HH:MM")
    hours, minutes = int(m.group(1)), int(m.group(2))
    value = hours * 60 + minutes
    if minutes > 59 or value > 24 * 60:
        raise ValueError(f"{what} {text!r} is outside 00:00..24:00")
    return value


def _parse_time_range(item: Any) -> Range:
    if not isinstance(item, Mapping):
        raise ValueError(f"times entries need start_time and end_time, got {item!r}")
    start = _minutes(item.get("start_time"), "start_time")
    end = _minutes(item.get("end_time"), "end_time")
    if start >= end:
        raise ValueError(
            f"start_time {item.get('start_time')!r} must be before end_time {item.get('end_time')!r};"
            " split a range crossing midnight into two (e.g. 22:00-24:00 and 00:00-06:00)"
        )
    return start, end


def _weekday(token: str) -> int:
    try:
        return WEEKDAYS.index(token.strip().lower())
    except ValueError:
        raise ValueError(f"unknown weekday {token!r}; use monday..sunday") from None


def _month(token: str) -> int:
    t = token.strip().lower()
    if t in MONTHS:
        return MONTHS.index(t) + 1
    if t.isdigit():
        return int(t)
    raise ValueError(f"unknown month {token!r}; use january..december or 1..12")


def _year(token: str) -> int:
    t = token.strip()
    if not t.isdigit():
        raise ValueError(f"invalid year {token!r}")
    return int(t)


def _split(item: Any, key: str) -> tuple[str, str]:
    if isinstance(item, int) and not isinstance(item, bool):
        item = str(item)
    if not isinstance(item, str) or not item.strip():
        raise ValueError(f"{key} entries must be strings like 'a' or 'a:b', got {item!r}")
    parts = item.split(":")
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError(f"{key} entry {item!r} has more than one ':'")


def _parse_range(item: Any, key: str, conv: Any, low: int, high: int) -> Range:
    a_text, b_text = _split(item, key)
    a, b = conv(a_text), conv(b_text)
    for v in (a, b):
        if not low <= v <= high:
            raise ValueError(f"{key} entry {item!r} is outside {low}..{high}")
    if a > b:
        raise ValueError(f"{key} range {item!r} ends before it starts")
    return a, b


def _parse_day_range(item: Any) -> Range:
    a_text, b_text = _split(item, "days_of_month")
    try:
        a, b = int(a_text), int(b_text)
    except ValueError:
        raise ValueError(f"days_of_month entry {item!r} is not a number or range of numbers") from None
    for v in (a, b):
        if v == 0 or not -31 <= v <= 31:
            raise ValueError(f"days_of_month entry {item!r} must be in 1..31 or -31..-1")
    if a < 0 < b:
        raise ValueError(f"days_of_month range {item!r} cannot start from the end and end from the start")
    if (a > 0) == (b > 0) and a > b:
        raise ValueError(f"days_of_month range {item!r} ends before it starts")
    return a, b
