"""On-call schedules: rotations (DST-safe daily hand-offs), layers, restrictions, overrides, shifts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from slo_service.core.oncall.schedule import Layer, Override, Restriction, Rotation, Schedule, Shift, on_call, shifts

BERLIN = ZoneInfo("Europe/Berlin")
D = timedelta(days=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# daily hand-off at 09:00 Berlin, starting Friday 2026-03-27 (CET); DST starts Sunday 2026-03-29
DAILY = Layer(
    "daily", Rotation(("alice", "bob", "carol"), D, datetime(2026, 3, 27, 9, 0, tzinfo=BERLIN)), "Europe/Berlin"
)
# weekly, starting Monday 2026-10-19 09:00 Berlin (CEST); DST ends Sunday 2026-10-25
WEEKLY = Layer("weekly", Rotation(("ann", "ben"), 7 * D, datetime(2026, 10, 19, 9, 0, tzinfo=BERLIN)), "Europe/Berlin")
HALF_DAY = Layer(
    "half", Rotation(("x", "y"), timedelta(hours=12), datetime(2026, 3, 28, 0, 0, tzinfo=UTC)), "Europe/Berlin"
)
BUSINESS = Restriction(time(9), time(17), (0, 1, 2, 3, 4))
DAYTIME = Layer(
    "daytime",
    Rotation(("dana", "eve"), 7 * D, datetime(2026, 3, 23, 9, 0, tzinfo=BERLIN), (BUSINESS,)),
    "Europe/Berlin",
)
FRIDAY_NIGHT = Layer(
    "friday-night",
    Rotation(("nora",), 7 * D, datetime(2026, 3, 1, tzinfo=UTC), (Restriction(time(22), time(6), (4,)),)),
    "UTC",
)

ONE = Schedule("one", "Europe/Berlin", (DAILY,))
LAYERED = Schedule("layered", "Europe/Berlin", (DAILY, DAYTIME, FRIDAY_NIGHT))
OVERRIDDEN = Schedule(
    "ov",
    "Europe/Berlin",
    (DAILY, DAYTIME),
    (
        Override(utc(2026, 3, 30, 10), utc(2026, 3, 30, 12), "olga"),
        Override(utc(2026, 3, 30, 11), utc(2026, 3, 30, 11, 30), "omar"),
    ),
)

CASES = [
    ("before-start", ONE, utc(2026, 3, 27, 7, 59), None),
    ("first-turn", ONE, utc(2026, 3, 27, 8, 0), "alice"),
    ("cet-handoff-is-08utc", ONE, utc(2026, 3, 28, 7, 59), "alice"),
    ("cet-handoff-after", ONE, utc(2026, 3, 28, 8, 0), "bob"),
    # on the DST day 09:00 local is 07:00 UTC: the hand-off follows the wall clock
    ("dst-day-before-handoff", ONE, utc(2026, 3, 29, 6, 59), "bob"),
    ("dst-day-handoff-local-0900", ONE, datetime(2026, 3, 29, 9, 0, tzinfo=BERLIN), "carol"),
    ("dst-day-handoff-07utc", ONE, utc(2026, 3, 29, 7, 30), "carol"),
    ("after-dst-wraps", ONE, utc(2026, 3, 30, 7, 0), "alice"),
    ("weekly-before-autumn-dst", Schedule("w", "UTC", (WEEKLY,)), utc(2026, 10, 26, 7, 59), "ann"),
    # 2026-10-26 09:00 CET is 08:00 UTC (it was 07:00 UTC a week earlier, in CEST)
    ("weekly-handoff-after-autumn-dst", Schedule("w", "UTC", (WEEKLY,)), utc(2026, 10, 26, 8, 0), "ben"),
    ("weekly-not-at-old-utc-time", Schedule("w", "UTC", (WEEKLY,)), utc(2026, 10, 26, 7, 0), "ann"),
    ("hourly-length-absolute", Schedule("h", "UTC", (HALF_DAY,)), utc(2026, 3, 29, 12, 0), "y"),
    # 12h turns advance in absolute time: not at 13:00 local (11:00 UTC) after the DST jump
    ("hourly-length-absolute-2", Schedule("h", "UTC", (HALF_DAY,)), utc(2026, 3, 29, 11, 30), "x"),
    ("restricted-layer-wins-in-hours", LAYERED, utc(2026, 3, 30, 9, 0), "eve"),  # Monday 11:00 CEST, week 2
    ("restricted-layer-gap-falls-through", LAYERED, utc(2026, 3, 30, 15, 0), "alice"),  # 17:00 CEST: end excl.
    ("restricted-layer-weekend", LAYERED, utc(2026, 3, 28, 10, 0), "bob"),
    ("restricted-layer-start-local", LAYERED, utc(2026, 3, 27, 8, 0), "dana"),  # Friday 09:00 CET
    ("midnight-crossing-restriction", LAYERED, utc(2026, 3, 28, 5, 59), "nora"),  # Saturday 05:59
    ("midnight-crossing-ends", LAYERED, utc(2026, 3, 28, 6, 0), "alice"),
    ("midnight-crossing-not-thursday", LAYERED, utc(2026, 3, 26, 23, 0), None),  # before DAILY starts
    ("override-beats-layers", OVERRIDDEN, utc(2026, 3, 30, 10, 0), "olga"),
    ("later-override-wins", OVERRIDDEN, utc(2026, 3, 30, 11, 15), "omar"),
    ("override-end-exclusive", OVERRIDDEN, utc(2026, 3, 30, 12, 0), "eve"),
]  # fmt: skip


@pytest.mark.parametrize(("schedule", "at", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_on_call(schedule: Schedule, at: datetime, expected: str | None) -> None:
    assert on_call(schedule, at) == expected


def test_shifts_across_dst_keep_local_0900() -> None:
    got = shifts(ONE, utc(2026, 3, 28), utc(2026, 3, 31))
    assert got == [
        Shift("alice", utc(2026, 3, 28), utc(2026, 3, 28, 8), "daily"),
        Shift("bob", utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), "daily"),  # a 23-hour shift
        Shift("carol", utc(2026, 3, 29, 7), utc(2026, 3, 30, 7), "daily"),
        Shift("alice", utc(2026, 3, 30, 7), utc(2026, 3, 31), "daily"),
    ]
    assert all(s.start.astimezone(BERLIN).hour == 9 for s in got[1:])


def test_shifts_with_layers_restrictions_and_overrides() -> None:
    got = shifts(OVERRIDDEN, utc(2026, 3, 30, 6), utc(2026, 3, 30, 16))
    assert got == [
        Shift("carol", utc(2026, 3, 30, 6), utc(2026, 3, 30, 7), "daily"),
        Shift("eve", utc(2026, 3, 30, 7), utc(2026, 3, 30, 10), "daytime"),  # 09:00 CEST: restriction opens
        Shift("olga", utc(2026, 3, 30, 10), utc(2026, 3, 30, 11), "override"),
        Shift("omar", utc(2026, 3, 30, 11), utc(2026, 3, 30, 11, 30), "override"),
        Shift("olga", utc(2026, 3, 30, 11, 30), utc(2026, 3, 30, 12), "override"),
        Shift("eve", utc(2026, 3, 30, 12), utc(2026, 3, 30, 15), "daytime"),
        Shift("alice", utc(2026, 3, 30, 15), utc(2026, 3, 30, 16), "daily"),  # 17:00 CEST: back to the base layer
    ]


def test_shifts_agree_with_on_call_everywhere() -> None:
    start, end = utc(2026, 3, 20), utc(2026, 4, 6)
    timeline = shifts(LAYERED, start, end)
    t = start
    while t < end:
        expected = on_call(LAYERED, t)
        covering = [s.member for s in timeline if s.start <= t < s.end]
        assert covering == ([] if expected is None else [expected]), t
        t += timedelta(minutes=30)
    for a, b in itertools.pairwise(timeline):
        assert a.end <= b.start
        assert not (a.end == b.start and a.member == b.member and a.source == b.source)  # merged


def test_shifts_empty_range() -> None:
    assert shifts(ONE, utc(2026, 4, 1), utc(2026, 4, 1)) == []


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: Rotation((), D, utc(2026, 1, 1)), id="no-members"),
        pytest.param(lambda: Rotation(("a",), timedelta(0), utc(2026, 1, 1)), id="zero-length"),
        pytest.param(lambda: Rotation(("a",), D, datetime(2026, 1, 1)), id="naive-start"),
        pytest.param(lambda: Layer("l", Rotation(("a",), D, utc(2026, 1, 1)), "Nowhere/City"), id="bad-zone"),
        pytest.param(lambda: Override(utc(2026, 1, 2), utc(2026, 1, 1), "a"), id="override-reversed"),
        pytest.param(lambda: Restriction(time(9), time(17), (7,)), id="bad-weekday"),
    ],
)
def test_invalid(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]
