"""Prometheus-style duration strings ("5m", "1h30m", "28d") to and from timedelta."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 365 * 86400}
_MAX_YEARS = 10_000
_MAX_SECONDS = _MAX_YEARS * _UNITS["y"]
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def parse_duration(text: str, allow_zero: bool = False) -> timedelta:
    """Parse "30s", "5m", "1h30m", "7d", "4w"; raise ValueError with the offending text otherwise.

    Zero ("0s") is refused unless `allow_zero` (e.g. Alertmanager's group_wait: 0s, "send at once")."""
    s = text.strip()
    if not s:
        raise ValueError("empty duration")
    pos = 0
    seconds = 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        seconds += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise ValueError(f"invalid duration {text!r}; use forms like 30s, 5m, 1h, 7d, 4w")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"duration {text!r} must be positive")
    if seconds > _MAX_SECONDS:  # timedelta itself overflows near 2.7 million years
        raise ValueError(f"duration {text!r} is too long (at most {_MAX_YEARS}y)")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Shortest Prometheus-style string for a whole number of seconds ("1h30m", "28d")."""
    total = int(delta.total_seconds())
    if total <= 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            out.append(f"{total // size}{unit}")
            total %= size
    return "".join(out)
