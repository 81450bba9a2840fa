"""OpenSLO DataSource documents read into slo-service sources.

``type: Prometheus`` is a promql source (connectionDetails.url); ``slo-service-scrape`` a target the service
scrapes itself (connectionDetails.url) and ``slo-service-push`` a push source (no connectionDetails): the
two types slo-service export writes for sources only it can read. What OpenSLO has no field for is in
``slo-service/`` annotations: interval, timeout, backfill, ``header.NAME`` and a scrape's body_size_limit and
max_gap (openslo_annotations.py).
The source is built and checked by the native reader (specs/native.py), its problems located here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slo_service.core.model import Source, SourceKind
from slo_service.specs.native import build_source, read_source_item
from slo_service.specs.openslo_annotations import annotation_path, parse_bool, prefixed, service_annotations
from slo_service.specs.openslo_common import Doc, check_known, mapping_at, string_at
from slo_service.specs.problems import Problem, SpecFile, describe
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["DATA_SOURCE_TYPES", "PUSH_TYPE", "SCRAPE_TYPE", "data_source_kind", "read_data_source"]

SCRAPE_TYPE = "slo-service-scrape"
PUSH_TYPE = "slo-service-push"
DATA_SOURCE_TYPES: Mapping[str, SourceKind] = {
    "prometheus": SourceKind.PROMQL,
    SCRAPE_TYPE: SourceKind.SCRAPE,
    PUSH_TYPE: SourceKind.PUSH,
}
_SETTINGS: Mapping[SourceKind, tuple[str, ...]] = {
    SourceKind.PROMQL: ("interval", "timeout", "backfill", "header."),
    SourceKind.SCRAPE: ("interval", "timeout", "body_size_limit", "max_gap"),
    SourceKind.PUSH: (),
}
_TEXT_SETTINGS = ("interval", "timeout", "body_size_limit", "max_gap")  # read as the native fields of the same name
_SCRATCH = "source"


def data_source_kind(spec_type: Any) -> SourceKind | None:
    """The source kind of a DataSource spec.type (case-insensitive), None when slo-service reads no such type."""
    return DATA_SOURCE_TYPES.get(spec_type.lower()) if isinstance(spec_type, str) else None


def read_data_source(doc: Doc) -> Source | None:
    """The source of a DataSource document; None after reporting every problem."""
    file, spec = doc.file, doc.data["spec"]
    ok = check_known(file, ("spec",), spec, {"type", "connectionDetails", "description"})
    kind = data_source_kind(spec.get("type"))
    if kind is None:
        types = ", ".join(("Prometheus", SCRAPE_TYPE, PUSH_TYPE))
        file.add(("spec", "type"), f"data source type {describe(spec.get('type'))} is not supported; types: {types}")
        return None  # its connectionDetails are another system's: nothing more to check
    raw: dict[str, Any] = {"name": doc.name, "type": kind.value}
    details = mapping_at(file, ("spec", "connectionDetails"), spec.get("connectionDetails"), required=False)
    if details is None:
        return None
    if kind is SourceKind.PUSH:
        ok = check_known(file, ("spec", "connectionDetails"), details, set()) and ok
    else:
        ok = check_known(file, ("spec", "connectionDetails"), details, {"url"}) and ok
        url = string_at(file, ("spec", "connectionDetails", "url"), details.get("url"))
        ok = url is not None and ok
        raw["url"] = url
    settings = service_annotations(doc.data.get("metadata"))
    for key, value in settings.items():
        if key == "name" or not isinstance(value, str):
            continue  # the name, and non-string values (reported by metadata_name)
        allowed = _SETTINGS[kind]
        if not any(key == a or (a.endswith(".") and key.startswith(a)) for a in allowed):
            file.add(
                annotation_path((), key),
                f"a {spec.get('type')} DataSource takes no annotation slo-service/{key}"
                + (f"; it takes {', '.join('slo-service/' + a for a in allowed)}" if allowed else ""),
            )
            ok = False
        elif key == "backfill":
            backfill = parse_bool(file, annotation_path((), key), value)
            ok = backfill is not None and ok
            raw["backfill"] = backfill
        elif key in _TEXT_SETTINGS:
            raw[key] = value
    headers = prefixed(settings, "header.")
    if headers:
        raw["headers"] = headers
    if not ok:
        return None
    found: list[Problem] = []
    scratch = SpecFile(file.name, file.doc, found)
    item = read_source_item(scratch, (_SCRATCH,), raw)
    source = build_source(scratch, (_SCRATCH,), item.spec) if item.spec is not None else None
    for problem in found:
        file.add(_located(problem.field), problem.message)
    return None if found else source


def _located(field: str) -> YPath:
    """Where a problem the native reader reported at `source.FIELD` lies in the DataSource document."""
    key = field.removeprefix(_SCRATCH).lstrip(".")
    if key == "url":
        return ("spec", "connectionDetails", "url")
    if key.startswith("headers."):
        return annotation_path((), "header." + key.removeprefix("headers."))
    if key in (*_TEXT_SETTINGS, "backfill"):
        return annotation_path((), key)
    return ("metadata", "name") if key == "name" else ("spec",)
