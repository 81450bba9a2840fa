"""Alertmanager time intervals: parsing and containment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from slo_service.core.routing.time_intervals import (
    TimeInterval,
    in_intervals,
    in_named_intervals,
    parse_named_time_intervals,
    parse_time_interval,
)

BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


BUSINESS = {"weekdays": ["monday:friday"], "times": [{"start_time": "09:00", "end_time": "17:00"}]}

CASES: list[tuple[str, dict[str, Any], datetime, bool]] = [
    ("empty-matches-all", {}, utc(2026, 1, 1, 3, 0), True),
    ("business-hours-in", BUSINESS, utc(2026, 11, 27, 9, 0), True),  # Friday 09:00, start inclusive
    ("business-hours-end-exclusive", BUSINESS, utc(2026, 11, 27, 17, 0), False),
    ("business-hours-last-minute", BUSINESS, utc(2026, 11, 27, 16, 59, 59), True),
    ("weekend-out", BUSINESS, utc(2026, 11, 28, 12, 0), False),  # Saturday
    ("weekday-single-and-range", {"weekdays": ["sunday", "monday:tuesday"]}, utc(2026, 11, 29, 1, 0), True),
    ("weekday-range-excludes", {"weekdays": ["monday:tuesday"]}, utc(2026, 11, 26, 1, 0), False),  # Thursday
    ("night-split-late", {"times": [{"start_time": "22:00", "end_time": "24:00"},
                                    {"start_time": "00:00", "end_time": "06:00"}]}, utc(2026, 3, 3, 23, 30), True),
    ("night-split-early", {"times": [{"start_time": "22:00", "end_time": "24:00"},
                                     {"start_time": "00:00", "end_time": "06:00"}]}, utc(2026, 3, 3, 5, 59), True),
    ("night-split-day", {"times": [{"start_time": "22:00", "end_time": "24:00"},
                                   {"start_time": "00:00", "end_time": "06:00"}]}, utc(2026, 3, 3, 6, 0), False),
    ("last-day-of-month-feb", {"days_of_month": ["-1"]}, utc(2026, 2, 28, 12), True),
    ("last-day-of-month-not-30-in-31", {"days_of_month": ["-1"]}, utc(2026, 1, 30, 12), False),
    ("last-3-days", {"days_of_month": ["-3:-1"]}, utc(2026, 4, 28, 12), True),
    ("last-3-days-out", {"days_of_month": ["-3:-1"]}, utc(2026, 4, 27, 12), False),
    ("from-day-to-end", {"days_of_month": ["25:-1"]}, utc(2026, 4, 30, 12), True),
    ("day-31-absent-in-april", {"days_of_month": ["31"]}, utc(2026, 4, 30, 12), False),
    ("first-week", {"days_of_month": ["1:7"]}, utc(2026, 4, 7, 23, 59), True),
    ("month-names-range", {"months": ["december:december", "january:february"]}, utc(2026, 2, 10), True),
    ("month-number", {"months": ["3"]}, utc(2026, 4, 1), False),
    ("month-range-mixed", {"months": ["6:august"]}, utc(2026, 7, 1), True),
    ("years-range", {"years": ["2025:2026"]}, utc(2027, 1, 1), False),
    ("years-in", {"years": ["2020", "2026"]}, utc(2026, 6, 1), True),
    # Berlin is UTC+1 in winter: 08:30 UTC = 09:30 local
    ("location-winter", {**BUSINESS, "location": "Europe/Berlin"}, utc(2026, 1, 5, 8, 30), True),
    ("location-winter-before", {**BUSINESS, "location": "Europe/Berlin"}, utc(2026, 1, 5, 7, 30), False),
    # and UTC+2 in summer: 07:30 UTC = 09:30 local, 15:30 UTC = 17:30 local
    ("location-summer-dst", {**BUSINESS, "location": "Europe/Berlin"}, utc(2026, 7, 6, 7, 30), True),
    ("location-summer-end", {**BUSINESS, "location": "Europe/Berlin"}, utc(2026, 7, 6, 15, 30), False),
    # the weekday is the local one: Sunday 23:30 UTC is Monday 01:30 in Berlin
    ("location-shifts-weekday", {"weekdays": ["monday"], "location": "Europe/Berlin"}, utc(2026, 7, 5, 23, 30), True),
    ("location-shifts-month", {"months": ["august"], "location": "Asia/Tokyo"}, utc(2026, 7, 31, 16), True),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "at", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_contains(spec: dict[str, Any], at: datetime, expected: bool) -> None:
    assert parse_time_interval(spec).contains(at) is expected


def test_dst_day_local_hours() -> None:
    # 2026-03-29: Berlin jumps 02:00 -> 03:00. 09:00 local is 07:00 UTC that day (08:00 UTC the day before).
    ti = parse_time_interval({"times": [{"start_time": "09:00", "end_time": "10:00"}], "location": "Europe/Berlin"})
    assert ti.contains(utc(2026, 3, 28, 8, 0)) and not ti.contains(utc(2026, 3, 28, 7, 0))
    assert ti.contains(utc(2026, 3, 29, 7, 0)) and not ti.contains(utc(2026, 3, 29, 8, 0))
    assert ti.contains(datetime(2026, 3, 29, 9, 30, tzinfo=BERLIN))


BAD = [
    ("unknown-field", {"weekday": ["monday"]}, "unknown time interval field"),
    ("bad-weekday", {"weekdays": ["funday"]}, "unknown weekday"),
    ("reversed-weekdays", {"weekdays": ["friday:monday"]}, "ends before it starts"),
    ("times-crossing-midnight", {"times": [{"start_time": "22:00", "end_time": "06:00"}]}, "split a range"),
    ("times-bad-format", {"times": [{"start_time": "9:00", "end_time": "10:00"}]}, "not HH:MM"),
    ("times-too-late", {"times": [{"start_time": "09:00", "end_time": "24:01"}]}, "outside 00:00..24:00"),
    ("day-zero", {"days_of_month": ["0"]}, "1..31 or -31..-1"),
    ("day-too-big", {"days_of_month": ["32"]}, "1..31 or -31..-1"),
    ("day-neg-to-pos", {"days_of_month": ["-3:5"]}, "cannot start from the end"),
    ("day-reversed", {"days_of_month": ["10:5"]}, "ends before it starts"),
    ("month-13", {"months": ["13"]}, "outside 1..12"),
    ("month-name", {"months": ["smarch"]}, "unknown month"),
    ("year-text", {"years": ["twenty"]}, "invalid year"),
    ("location", {"location": "Mars/Olympus"}, "unknown time zone"),
    ("not-a-list", {"weekdays": "monday"}, "must be a list"),
    ("too-many-colons", {"months": ["1:2:3"]}, "more than one"),
]


@pytest.mark.parametrize(("spec", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_parse_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_time_interval(spec)


def test_named_intervals_any_entry() -> None:
    named = parse_named_time_intervals(
        [
            {"name": "offhours", "time_intervals": [{"weekdays": ["saturday:sunday"]}, {"times": [
                {"start_time": "00:00", "end_time": "08:00"}]}]},
            {"name": "never", "time_intervals": []},
        ]
    )  # fmt: skip
    assert in_named_intervals(["offhours"], named, utc(2026, 11, 28, 12))  # Saturday
    assert in_named_intervals(["never", "offhours"], named, utc(2026, 11, 27, 7))  # Friday 07:00
    assert not in_named_intervals(["offhours"], named, utc(2026, 11, 27, 12))
    assert not in_named_intervals(["never"], named, utc(2026, 11, 27, 12))
    assert not in_intervals([], utc(2026, 1, 1))
    with pytest.raises(KeyError):
        in_named_intervals(["nope"], named, utc(2026, 1, 1))
    with pytest.raises(ValueError, match="defined twice"):
        parse_named_time_intervals([{"name": "a"}, {"name": "a"}])
    with pytest.raises(ValueError, match="'x': unknown weekday"):
        parse_named_time_intervals([{"name": "x", "time_intervals": [{"weekdays": ["nope"]}]}])


def test_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        TimeInterval().contains(datetime(2026, 1, 1))
