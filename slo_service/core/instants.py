"""Instants given from outside (API parameters, pushed samples, webhooks): RFC 3339 or Unix seconds,
always aware UTC, and always inside one documented range, so no later arithmetic can overflow."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
"""The earliest instant any input may name (Unix time 0)."""
TIME_MAX = datetime(2200, 1, 1, tzinfo=UTC)
"""The latest instant any input may name: far enough for any plan, far from datetime.max, so adding a
period or a step to it never overflows."""
_MAX_SECONDS = (TIME_MAX - TIME_MIN).total_seconds()
_UNIX = r"(0|[1-9][0-9]{0,19})(\.[0-9]{1,9})?"
_RFC3339 = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
INSTANT_PATTERN = f"^({_UNIX}|{_RFC3339})$"
"""The text form of an instant: Unix seconds, or RFC 3339 (date alone, seconds, fraction and zone optional)."""
_IS_UNIX = re.compile(f"^{_UNIX}$")
_IS_INSTANT = re.compile(INSTANT_PATTERN)
_RANGE = f"between {TIME_MIN:%Y-%m-%d} and {TIME_MAX:%Y-%m-%d} UTC"


def instant_from_unix(seconds: float) -> datetime:
    """Unix seconds as aware UTC; ValueError (to be prefixed with the field's name) for non-finite,
    millisecond-looking or out-of-range values."""
    if not math.isfinite(seconds):
        raise ValueError("must be a finite number of Unix seconds")
    if seconds > _MAX_SECONDS:
        # 1e11 s is the year 5138: a number that large is milliseconds (or finer), never a real time.
        hint = "; it looks like milliseconds: send Unix seconds (divide by 1000)" if seconds >= 1e11 else ""
        raise ValueError(f"{seconds:g} is after {TIME_MAX:%Y-%m-%d}{hint}")
    if seconds < 0:
        raise ValueError(f"{seconds:g} is before 1970-01-01 (Unix seconds must be >= 0)")
    return datetime.fromtimestamp(seconds, UTC)


def instant_to_utc(value: datetime) -> datetime:
    """An aware UTC instant (a naive one is taken as UTC); ValueError when out of range."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        utc = aware.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+05:00 is before datetime.min in UTC
        utc = None
    if utc is None or not TIME_MIN <= utc <= TIME_MAX:
        raise ValueError(f"{value.isoformat()} is not {_RANGE}")
    return utc


def parse_instant(text: str) -> datetime:
    """RFC 3339 (a time without zone is UTC) or Unix seconds; ValueError otherwise."""
    if not _IS_INSTANT.fullmatch(text):
        raise ValueError(f"{text[:60]!r} is neither RFC 3339 (2026-01-02T03:04:05Z) nor Unix seconds")
    if _IS_UNIX.fullmatch(text):
        return instant_from_unix(float(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:  # 2026-02-30, hour 24, ...
        raise ValueError(f"{text[:60]!r} is not a valid time: {exc}") from None
    return instant_to_utc(parsed)
