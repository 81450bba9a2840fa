"""Prometheus-style byte sizes ("10MB", "512KiB") to and from a number of bytes.

Read as Prometheus reads `body_size_limit` (alecthomas/units Base2Bytes): every unit is 1024-based, so
"10MB" and "10MiB" are both 10485760 bytes; the unit is required and case-sensitive; "0" is zero.
"""

from __future__ import annotations

import re
from decimal import Decimal

_STEPS = ("K", "M", "G", "T", "P", "E")
_UNITS: dict[str, int] = {"B": 1}
for _power, _prefix in enumerate(_STEPS, start=1):
    _UNITS[_prefix + "B"] = _UNITS[_prefix + "iB"] = 1024**_power
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([A-Za-z]+)")
_HINT = "use forms like 512KB, 10MB or 1GB (1024-based, as Prometheus reads them), or 0"


def parse_size(text: str) -> int:
    """Bytes of "10MB", "1.5GiB", "512KB", "0"; raise ValueError naming the text otherwise."""
    s = text.strip()
    if s == "0":
        return 0
    m = _SIZE.fullmatch(s)
    if m is None:
        raise ValueError(f"invalid size {text!r}; {_HINT}")
    number, unit = m.groups()
    if unit not in _UNITS:
        units = ", ".join(["B", *(p + "B" for p in _STEPS[:4])])
        raise ValueError(f"unknown unit {unit!r} in size {text!r}; units: {units} (or KiB, MiB, ...), 1024-based")
    exact = Decimal(number) * _UNITS[unit]
    if 0 < exact < 1:
        raise ValueError(f"size {text!r} is less than one byte; {_HINT}")
    return int(exact)  # Prometheus truncates a fractional byte too


def format_size(size: int) -> str:
    """The exact, shortest text parse_size reads back: "10MiB", "1536KiB", "100B", "0"."""
    if size <= 0:
        return "0"
    for power in range(len(_STEPS), 0, -1):
        if size % 1024**power == 0:
            return f"{size // 1024**power}{_STEPS[power - 1]}iB"
    return f"{size}B"
