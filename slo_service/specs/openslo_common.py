"""Shared pieces of the OpenSLO reader (openslo.py, openslo_slo.py, openslo_alerts.py): the collected
documents, the lookup context of one build, and field checks that report and return None so that a
document's every problem is reported at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slo_service.specs.checks import check_labels, check_name
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
    "string_at",
]

DEFAULT_SOURCE = "prometheus"  # the source of a metric without metricSourceRef, and of every Sloth SLO
SERVICE_PREFIX = "slo-service/"  # annotations slo-service reads (the others belong to other tools)
METADATA_FIELDS = frozenset({"name", "displayName", "labels", "annotations"})


@dataclass
class Doc:
    """One collected document: an OpenSLO kind (or "Sloth" for a whole Sloth file)."""

    file: SpecFile
    kind: str
    name: str
    data: dict[str, Any]


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

    Annotations are other tools' (ignored) except ``slo-service/`` ones, which only notification targets
    take (their receiver settings): elsewhere one is refused rather than ignored, a typo would change
    nothing silently."""
    meta = mapping_at(file, (*path, "metadata"), data.get("metadata"))
    if meta is None:
        return None
    ok = check_known(file, (*path, "metadata"), meta, METADATA_FIELDS)
    annotations = meta.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        file.add((*path, "metadata", "annotations"), f"expected a mapping, got {describe(annotations)}")
        ok = False
    elif annotations and kind != "AlertNotificationTarget":
        for key in annotations:
            if str(key).startswith(SERVICE_PREFIX):
                file.add(
                    (*path, "metadata", "annotations", key),
                    f"annotation {key!r} is not supported on a {kind}; {SERVICE_PREFIX} annotations hold the "
                    "receiver settings of an AlertNotificationTarget",
                )
                ok = False
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
