"""Shared pieces of the OpenSLO reader (openslo.py, openslo_slo.py, openslo_alerts.py): the collected
documents, the lookup context of one build, time windows, and field checks that report and return None so that a
document's every problem is reported at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slo_service.core.model import CalendarUnit, Period
from slo_service.specs.checks import check_labels, check_name, duration_at, rolling_period, valid_timezone
from slo_service.specs.openslo_annotations import SERVICE_PREFIX, check_annotations
from slo_service.specs.problems import SpecFile, describe
from slo_service.specs.yaml_lines import Path as YPath

__all__ = [
    "DEFAULT_SOURCE",
    "METADATA_FIELDS",
    "SERVICE_PREFIX",
    "Context",
    "Doc",
    "check_known",
    "labels_at",
    "mapping_at",
    "metadata_name",
    "start_time_ok",
    "string_at",
    "time_window",
]

DEFAULT_SOURCE = "prometheus"  # the source of a metric without metricSourceRef, and of every Sloth SLO
_CALENDAR_UNITS = {"1w": CalendarUnit.WEEK, "1M": CalendarUnit.MONTH}
METADATA_FIELDS = frozenset({"name", "displayName", "labels", "annotations"})


@dataclass
class Doc:
    """One collected document: an OpenSLO kind (or "Sloth" for a whole Sloth file).

    `name` is the object's slo-service name (its slo-service/name annotation, else metadata.name); `ref`
    is its metadata.name, which other documents refer to."""

    file: SpecFile
    kind: str
    name: str
    data: dict[str, Any]
    ref: str = ""

    def __post_init__(self) -> None:
        self.ref = self.ref or self.name


@dataclass
class Context:
    """What an SLO may refer to. None sets: that kind of reference is not checked (a file was unreadable)."""

    services: set[str] | None
    source_kinds: dict[str, str | None] | None  # slo-service sources and OpenSLO DataSources -> their kind
    docs: dict[str, dict[str, Doc]] = field(default_factory=dict)  # kind -> name -> first document

    def named(self, kind: str) -> dict[str, Doc]:
        return self.docs.get(kind, {})


def check_known(file: SpecFile, path: YPath, data: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> bool:
    """Refuse every field the mapping has beyond `allowed` (one problem per field); True when none."""
    ok = True
    for key in data:
        if key not in allowed:
            hint = f"; supported fields: {', '.join(sorted(allowed))}" if allowed else ""
            file.add((*path, key), f"field {key!r} is not supported by slo-service{hint}")
            ok = False
    return ok


def mapping_at(file: SpecFile, path: YPath, value: Any, *, required: bool = True) -> dict[str, Any] | None:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        file.add(path, "required field is missing" if value is None else f"expected a mapping, got {describe(value)}")
        return None
    return value


def string_at(file: SpecFile, path: YPath, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        file.add(path, "required field is missing" if value is None else f"expected a string, got {describe(value)}")
        return None
    return value


def metadata_name(file: SpecFile, path: YPath, data: Mapping[str, Any], kind: str) -> str | None:
    """The checked metadata.name of a document (or of an inline object at `path`) of `kind`.

    Annotations are other tools' (ignored) except ``slo-service/`` ones, which are checked against what
    `kind` takes (openslo_annotations.py); notification targets check theirs as receiver settings."""
    meta = mapping_at(file, (*path, "metadata"), data.get("metadata"))
    if meta is None:
        return None
    ok = check_known(file, (*path, "metadata"), meta, METADATA_FIELDS)
    annotations = meta.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        file.add((*path, "metadata", "annotations"), f"expected a mapping, got {describe(annotations)}")
        ok = False
    elif annotations:
        ok = check_annotations(file, path, meta, kind) and ok
    name = string_at(file, (*path, "metadata", "name"), meta.get("name"))
    if name is None or not check_name(file, (*path, "metadata", "name"), name):
        return None
    return name if ok else None


def labels_at(file: SpecFile, path: YPath, value: Any) -> dict[str, str] | None:
    """OpenSLO labels as core labels: the spec allows a list of values per key, the core one string."""
    raw = mapping_at(file, path, value, required=False)
    if raw is None:
        return None
    out: dict[str, str] = {}
    ok = True
    for key, item in raw.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            file.add(
                (*path, key),
                f"label values must be single strings, got {describe(item)}: slo-service labels carry one value",
            )
            ok = False
        else:
            out[str(key)] = str(item)
    ok = check_labels(file, path, out) and ok
    return out if ok else None


def time_window(file: SpecFile, raw: Any) -> Period | None:
    """The period of an SLO's spec.timeWindow (exactly one rolling or calendar window)."""
    path: YPath = ("spec", "timeWindow")
    if not isinstance(raw, list) or len(raw) != 1:
        got = f"{len(raw)} time windows" if isinstance(raw, list) else describe(raw)
        file.add(path, f"exactly one time window is supported; got {got}")
        return None
    path = (*path, 0)
    window = mapping_at(file, path, raw[0])
    if window is None:
        return None
    ok = check_known(file, path, window, {"duration", "isRolling", "calendar"})
    duration = string_at(file, (*path, "duration"), window.get("duration"))
    # The spec: isRolling "if omitted assumed false if calendar is present".
    rolling = window.get("isRolling", "calendar" not in window)
    if rolling is True:
        if "calendar" in window:
            file.add((*path, "calendar"), "calendar only applies to windows with isRolling: false")
            ok = False
        if duration is None or not ok:
            return None
        if not re.fullmatch(r"\d+[mhdw]", duration.strip()):
            file.add((*path, "duration"), f"rolling duration {duration!r} must be in m, h, d or w, e.g. 28d or 4w")
            return None
        return rolling_period(file, (*path, "duration"), duration_at(file, (*path, "duration"), duration))
    if rolling is not False:
        file.add((*path, "isRolling"), f"expected true or false, got {describe(rolling)}")
        return None
    unit = None
    if duration is not None:
        unit = _CALENDAR_UNITS.get(duration.strip())
        if unit is None:
            file.add((*path, "duration"), f"calendar duration {duration!r} is not supported; use 1w or 1M")
    calendar = mapping_at(file, (*path, "calendar"), window.get("calendar"), required=False)
    if calendar is None:
        return None
    ok = check_known(file, (*path, "calendar"), calendar, {"startTime", "timeZone"}) and ok
    zone = calendar.get("timeZone", "UTC")
    if not isinstance(zone, str) or not valid_timezone(zone):
        file.add((*path, "calendar", "timeZone"), f"unknown time zone {describe(zone)}; use an IANA name such as UTC")
        ok = False
    if "startTime" in calendar and unit is not None:
        ok = start_time_ok(file, (*path, "calendar", "startTime"), calendar["startTime"], unit) and ok
    if not ok or unit is None:
        return None
    assert isinstance(zone, str)
    return Period.calendar(unit, zone)


def start_time_ok(file: SpecFile, path: YPath, raw: Any, unit: CalendarUnit) -> bool:
    """slo-service calendar periods start at local midnight on Mondays (1w) or on the 1st (1M): a startTime
    elsewhere would shift every period, so it is refused rather than ignored."""
    start: datetime | None = raw if isinstance(raw, datetime) else None
    if isinstance(raw, str):
        try:
            start = datetime.fromisoformat(raw.strip())
        except ValueError:
            start = None
    if start is None or start.tzinfo is not None:
        file.add(path, f"expected a date and time without time zone such as 2024-01-01 00:00:00; got {describe(raw)}")
        return False
    midnight = (start.hour, start.minute, start.second, start.microsecond) == (0, 0, 0, 0)
    aligned = midnight and (start.weekday() == 0 if unit is CalendarUnit.WEEK else start.day == 1)
    if not aligned:
        where = "a Monday" if unit is CalendarUnit.WEEK else "the 1st of a month"
        file.add(
            path,
            f"startTime {start.isoformat(sep=' ')} cannot be honoured: slo-service {unit.value}s start at local "
            f"midnight on {where} (in calendar.timeZone); use such a startTime or leave it out",
        )
    return aligned
