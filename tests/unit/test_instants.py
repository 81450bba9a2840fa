"""Instants and durations from outside: one documented range, a ValueError naming the problem, never an
OverflowError."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from slo_service.core.durations import parse_duration
from slo_service.core.instants import INSTANT_PATTERN, instant_from_unix, instant_to_utc, parse_instant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", datetime(1970, 1, 1, tzinfo=UTC)),
        ("1767225600.5", datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        ("2026-01-01", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T01:00:00+01:00", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01 00:00Z", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T00:00:00.123456789Z", datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_accepted_instants_are_aware_utc(text: str, expected: datetime) -> None:
    assert re.fullmatch(INSTANT_PATTERN, text)
    assert parse_instant(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("1796586782219", "looks like milliseconds"),
        ("1e20", "neither RFC 3339"),
        ("-5", "neither RFC 3339"),
        ("nan", "neither RFC 3339"),
        ("inf", "neither RFC 3339"),
        ("2026-02-30", "not a valid time"),
        ("0001-01-01T00:00:00+05:00", "is not between 1970-01-01 and 2200-01-01 UTC"),
        ("9999-12-31T23:59:59-05:00", "is not between"),
        ("1969-12-31T23:59:59Z", "is not between"),
        ("2026-01-01\n", "neither RFC 3339"),
        ("١٢٣", "neither RFC 3339"),  # Arabic-Indic digits: float() takes them, the pattern does not
    ],
)
def test_refused_instants_say_why(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        parse_instant(text)


def test_numbers_and_datetimes_share_the_range() -> None:
    for bad in (float("nan"), float("inf"), -1.0, 1e11, 1e300):
        with pytest.raises(ValueError):
            instant_from_unix(bad)
    assert instant_to_utc(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="not between"):
        instant_to_utc(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))


@pytest.mark.parametrize("text", ["1000000y", "99999999999999999999d", "10001y"])
def test_too_long_durations_are_a_value_error_not_an_overflow(text: str) -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration(text)
    assert parse_duration("10000y") == timedelta(days=365 * 10_000)
