"""The documented range of every API input (docs/api.md#input-limits): names, ids, instants and
durations of paths, queries and bodies. Out of range is a 422 naming the field, never a 500."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import HTTPException, Path, Query
from pydantic import BeforeValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from slo_service.core import tokens
from slo_service.core.durations import format_duration, parse_duration
from slo_service.core.instants import (
    INSTANT_PATTERN,
    TIME_MAX,
    TIME_MIN,
    instant_from_unix,
    instant_to_utc,
    parse_instant,
)

MAX_NAME = 200
"""Names: services, SLOs, sources, monitors, schedules, fingerprints, silence ids, label values filtered on."""
MAX_TEXT = 2000
MAX_ID = 2**63 - 1
"""Numeric ids are the databases' signed 64-bit BIGINT."""
NO_NUL = r"^[^\x00]*$"
"""No NUL character: PostgreSQL text cannot hold one and no real name has one."""
METRIC_NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
LABEL_FILTER = r"^[^=\x00]+=[^\x00]*$"
PATTERN_HINTS = {
    NO_NUL: "must not contain NUL (\\x00) characters",
    METRIC_NAME: "must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)",
    LABEL_NAME: "must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)",
    LABEL_FILTER: "must look like key=value",
    tokens.NAME_PATTERN: f"must be {tokens.NAME_RULE}",
}
"""What a person reads instead of pydantic's `String should match pattern '...'`."""
INSTANT_DOC = (
    f"RFC 3339 (no zone: UTC) or Unix seconds, between {TIME_MIN:%Y-%m-%d} and {TIME_MAX:%Y-%m-%d}; "
    "milliseconds are refused"
)

_INSTANT_TEXT: dict[str, Any] = {"type": "string", "pattern": INSTANT_PATTERN}
PathName = Annotated[str, Path(min_length=1, max_length=MAX_NAME, pattern=NO_NUL)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="a positive 64-bit id")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME, pattern=NO_NUL)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT, pattern=NO_NUL)]


def query_name(description: str) -> Any:
    """A Query() for an optional name filter: at most MAX_NAME characters, no NUL."""
    return Query(description=description, max_length=MAX_NAME, pattern=NO_NUL)


def query_instant(description: str) -> Any:
    """A Query() for an instant given as text; parse it with `instant_param`. The pattern is documentation:
    `instant_param` enforces it with a message a person can read."""
    pattern = {"pattern": INSTANT_PATTERN}
    return Query(description=f"{description}; {INSTANT_DOC}", max_length=64, json_schema_extra=pattern)


def instant_param(value: str | None, name: str) -> datetime | None:
    """An instant query parameter as aware UTC (None when absent); 422 naming `name` when it is not one."""
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise HTTPException(422, f"{name}: {exc}") from None


def duration_param(value: str, name: str, minimum: timedelta, maximum: timedelta) -> timedelta:
    """A duration ("5m", "1h30m", or seconds) within [minimum, maximum]; 422 naming `name` otherwise."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    parsed: timedelta | None = None
    if seconds is None:
        try:
            parsed = parse_duration(value)
        except ValueError as exc:
            if "too long" not in str(exc):  # a too long one gets the range below
                raise HTTPException(422, f"{name}: {exc}") from None
    elif minimum.total_seconds() <= seconds <= maximum.total_seconds():  # also refuses nan and inf
        parsed = timedelta(seconds=seconds)
    if parsed is None or not minimum <= parsed <= maximum:
        raise HTTPException(
            422, f"{name}: {value[:40]!r} is not between {format_duration(minimum)} and {format_duration(maximum)}"
        )
    return parsed


def _body_instant(value: Any) -> Any:
    """Before pydantic's own datetime parsing: Unix seconds and text through the same checks as queries."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return instant_from_unix(float(value))
        if isinstance(value, str):
            return parse_instant(value)
        if isinstance(value, datetime):
            return instant_to_utc(value)
    except ValueError as exc:
        raise PydanticCustomError("instant", "{problem}", {"problem": str(exc)}) from None
    return value  # anything else: pydantic names the type error


Instant = Annotated[
    datetime,
    BeforeValidator(_body_instant),
    WithJsonSchema(
        {
            "anyOf": [_INSTANT_TEXT, {"type": "number", "minimum": 0, "maximum": TIME_MAX.timestamp()}],
            "description": INSTANT_DOC,
        }
    ),
]
"""A body field holding an instant: aware UTC within the documented range."""
