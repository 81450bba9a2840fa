"""Checks shared by every reader: names, labels, durations, URLs, objectives, periods, time zones.

Each takes the `SpecFile` to report to and the path of the value, and returns the checked value or None
(after reporting), so readers can check every field and report all problems at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from slo_service.core.conventions import RESERVED_LABELS
from slo_service.core.durations import format_duration, parse_duration
from slo_service.core.model import Period
from slo_service.core.sizes import parse_size
from slo_service.specs.problems import SpecFile
from slo_service.specs.yaml_lines import Path as YPath

__all__ = [
    "MAX_ROLLING",
    "MAX_SLICE",
    "MIN_ROLLING",
    "MIN_SLICE",
    "NAME_PATTERN",
    "check_labels",
    "check_name",
    "check_url",
    "duration_at",
    "number_text",
    "objective_from_percent",
    "parsed_at",
    "rolling_period",
    "size_at",
    "valid_timezone",
]

T = TypeVar("T")
NAME_PATTERN = r"^[a-z0-9]([a-z0-9_.-]*[a-z0-9])?$"
_NAME = re.compile(NAME_PATTERN)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
MIN_ROLLING = timedelta(days=1)
MAX_ROLLING = timedelta(days=90)
MIN_SLICE = timedelta(minutes=1)
MAX_SLICE = timedelta(hours=1)


# --------------------------------------------------------------------------------------------------------


def check_name(file: SpecFile | None, path: YPath, name: str) -> bool:
    if _NAME.match(name):
        return True
    if file is not None:
        file.add(
            path,
            f"invalid name {name!r}: names must match {NAME_PATTERN} "
            "(lowercase letters, digits, '_', '.', '-'; starting and ending with a letter or digit)",
        )
    return False


def check_labels(file: SpecFile, path: YPath, labels: dict[str, str]) -> bool:
    ok = True
    for key in labels:
        if not _LABEL_NAME.match(key):
            file.add((*path, key), f"invalid label name {key!r}: must match [a-zA-Z_][a-zA-Z0-9_]*")
            ok = False
        elif key in RESERVED_LABELS or key.startswith("__"):
            file.add(
                (*path, key),
                f"label name {key!r} is reserved: the service sets {', '.join(sorted(RESERVED_LABELS))} itself "
                "and names starting with __ are reserved by Prometheus",
            )
            ok = False
    return ok


def parsed_at(file: SpecFile, path: YPath, parse: Callable[[str], T], text: str) -> T | None:
    """`parse(text)`, or None after reporting its ValueError at `path`."""
    try:
        return parse(text)
    except ValueError as exc:
        file.add(path, str(exc))
        return None


def duration_at(file: SpecFile, path: YPath, text: str) -> timedelta | None:
    return parsed_at(file, path, parse_duration, text)


def size_at(file: SpecFile, path: YPath, text: str) -> int | None:
    """Bytes of a Prometheus-style size ("10MB"), or None after reporting why it is not one."""
    return parsed_at(file, path, parse_size, text)


def check_url(file: SpecFile, path: YPath, url: str) -> bool:
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        file.add(path, f"url {url!r} must be an http:// or https:// URL with a host")
    return ok


def objective_from_percent(file: SpecFile, path: YPath, value: float) -> float | None:
    if value == 100:
        file.add(
            path,
            "objective 100 leaves no error budget: a single bad event would break the SLO; "
            "use a value below 100 such as 99.9",
        )
        return None
    if value == 0:
        file.add(
            path,
            "objective 0 is meaningless: it is met even when every event is bad; use a value above 0 such as 99",
        )
        return None
    if not (0 < value < 100):
        file.add(path, f"objective {number_text(value)} must be a percentage strictly between 0 and 100, such as 99.9")
        return None
    return float(Decimal(repr(value)) / 100)  # 99.9 -> 0.999 exactly, not 0.9990000000000001


def rolling_period(file: SpecFile, path: YPath, length: timedelta | None) -> Period | None:
    if length is None:
        return None
    if not (MIN_ROLLING <= length <= MAX_ROLLING):
        file.add(
            path,
            f"rolling period {format_duration(length)} is out of range: it must be between "
            f"{format_duration(MIN_ROLLING)} and {format_duration(MAX_ROLLING)}",
        )
        return None
    return Period.rolling(length)


def valid_timezone(name: str) -> bool:
    if not name:
        return False
    try:
        ZoneInfo(name)
    except Exception:
        return False
    return True


def number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)
