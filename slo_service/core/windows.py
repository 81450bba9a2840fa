"""Alert windows and time alignment on the Unix-epoch grid (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

ALERT_WINDOWS: dict[str, timedelta] = {
    "5m": timedelta(minutes=5),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
}
"""The multi-window burn-rate windows (SRE workbook), shortest first."""

PERIOD_WINDOW = "period"
"""Name of the window that spans the SLO period so far."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def floor_seconds(t: datetime) -> int:
    """Whole seconds since the epoch, rounded down. `t` must be timezone-aware."""
    return (t - EPOCH) // _SECOND


def ceil_seconds(t: datetime) -> int:
    """Whole seconds since the epoch, rounded up. `t` must be timezone-aware."""
    return -((EPOCH - t) // _SECOND)


def from_seconds(seconds: int) -> datetime:
    """The UTC datetime `seconds` after the epoch."""
    return EPOCH + timedelta(seconds=seconds)


def align(t: datetime, seconds: int) -> datetime:
    """Floor `t` to a multiple of `seconds` since the Unix epoch; the result is in UTC."""
    if seconds <= 0:
        raise ValueError("alignment must be a positive number of seconds")
    delta = t - EPOCH
    return EPOCH + (delta - delta % timedelta(seconds=seconds))
