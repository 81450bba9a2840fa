"""The ``slo-service/`` annotations of OpenSLO documents: what the service keeps that OpenSLO has no field for.

`slo-service export` writes them so that `export` then `import` gives back the same configuration; other
OpenSLO tools ignore them (annotations are free-form). Which keys each kind takes is fixed here, and the
reader refuses any other ``slo-service/`` key rather than ignore it (a typo would change nothing silently).
Keys ending in ``.`` are prefixes: ``slo-service/header.X-Scope-OrgID``, ``slo-service/labels.team``.

Names: OpenSLO names are DNS labels (``[a-z0-9]([-a-z0-9]*[a-z0-9])?``, at most 63 characters) while
slo-service names may hold ``_`` and ``.`` and SLO names repeat across services. Export writes an OpenSLO
name and, when it differs, the original in ``slo-service/name`` (and displayName); the reader uses that
annotation as the object's name and resolves references (spec.service, metricSourceRef) through it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from typing import Any

from slo_service.specs.checks import check_name
from slo_service.specs.problems import SpecFile, describe
from slo_service.specs.yaml_lines import Path as YPath

__all__ = [
    "KIND_ANNOTATIONS",
    "NAME_KEY",
    "SERVICE_PREFIX",
    "annotation_path",
    "check_annotations",
    "display_text",
    "openslo_name",
    "parse_bool",
    "parse_number",
    "policy_settings",
    "prefixed",
    "real_name",
    "service_annotations",
    "tier_settings",
]

SERVICE_PREFIX = "slo-service/"
NAME_KEY = "name"
_POLICY_KEYS = (
    "min_events", "min_slice_coverage", "min_budget_coverage", "no_data_after", "budget_exhausted", "for",
    "no_data_severity", "budget_exhausted_severity", "alert_name", "labels.", "annotations.",
)  # fmt: skip
KIND_ANNOTATIONS: Mapping[str, tuple[str, ...]] = {
    "Service": (NAME_KEY,),
    "DataSource": (NAME_KEY, "interval", "timeout", "backfill", "header.", "body_size_limit", "max_gap"),
    "SLO": (NAME_KEY,),
    "SLI": (NAME_KEY, "aggregate", "histogram", "threshold", "matchers", "buckets"),
    "AlertPolicy": (NAME_KEY, *_POLICY_KEYS),
    "AlertCondition": (NAME_KEY, "long_window", "short_window", "budget_share", "labels.", "annotations."),
}
"""The slo-service/ keys each kind takes (AlertNotificationTarget: its receiver settings, openslo_alerts.py)."""

_POLICY_TEXT = ("no_data_after", "for", "no_data_severity", "budget_exhausted_severity", "alert_name")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_MAX_NAME = 63


def service_annotations(meta: Any) -> dict[str, Any]:
    """The slo-service/ annotations of a metadata mapping, keys without the prefix."""
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(annotations, dict):
        return {}
    return {str(k).removeprefix(SERVICE_PREFIX): v for k, v in annotations.items() if str(k).startswith(SERVICE_PREFIX)}


def annotation_path(path: YPath, key: str) -> YPath:
    """The path of annotation `key` (without prefix) of the object at `path`."""
    return (*path, "metadata", "annotations", SERVICE_PREFIX + key)


def check_annotations(file: SpecFile, path: YPath, meta: Any, kind: str) -> bool:
    """Refuse slo-service/ annotations `kind` does not take, and values that are not strings."""
    allowed = KIND_ANNOTATIONS.get(kind)
    if allowed is None:
        return True
    ok = True
    for key, value in service_annotations(meta).items():
        if not any(key == a or (a.endswith(".") and key.startswith(a) and len(key) > len(a)) for a in allowed):
            shown = ", ".join(SERVICE_PREFIX + a + ("KEY" if a.endswith(".") else "") for a in allowed)
            message = f"a {kind} takes no annotation {SERVICE_PREFIX + key!r}; it takes {shown}"
            file.add(annotation_path(path, key), message)
            ok = False
        elif not isinstance(value, str):
            file.add(annotation_path(path, key), f"annotation values are strings, got {describe(value)}")
            ok = False
    return ok


def real_name(file: SpecFile, path: YPath, meta: Any, ref: str) -> str | None:
    """The slo-service name of the object whose metadata.name is `ref`: its slo-service/name, else `ref`."""
    name = service_annotations(meta).get(NAME_KEY)
    if name is None:
        return ref
    if not isinstance(name, str) or not check_name(file, annotation_path(path, NAME_KEY), name):
        return None
    return name


def display_text(meta: Any) -> str | None:
    """metadata.displayName as a description, unless it holds the original name (slo-service/name is set)."""
    if not isinstance(meta, dict) or NAME_KEY in service_annotations(meta):
        return None
    shown = meta.get("displayName")
    return str(shown) if shown else None


def prefixed(values: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """{rest: value} of the annotations whose key starts with `prefix` (e.g. "labels.")."""
    return {k.removeprefix(prefix): str(v) for k, v in values.items() if k.startswith(prefix)}


def parse_bool(file: SpecFile, path: YPath, text: str) -> bool | None:
    if text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    file.add(path, f'expected "true" or "false", got {text!r}')
    return None


def parse_number(file: SpecFile, path: YPath, text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        file.add(path, f"expected a number, got {text!r}")
        return None


def policy_settings(file: SpecFile, root: YPath, meta: Any) -> dict[str, Any] | None:
    """The alerting-policy fields in an AlertPolicy's slo-service/ annotations, typed as `alerting:` takes
    them (checked there); None after reporting."""
    out: dict[str, Any] = {}
    ok = True
    raw = {k: v for k, v in service_annotations(meta).items() if isinstance(v, str)}
    for key, value in raw.items():
        at = annotation_path(root, key)
        if key in ("min_events", "min_slice_coverage", "min_budget_coverage"):
            out[key] = parse_number(file, at, value)
            ok = out[key] is not None and ok
        elif key == "budget_exhausted":
            out[key] = parse_bool(file, at, value)
            ok = out[key] is not None and ok
        elif key in _POLICY_TEXT:
            out[key] = value
    for key in ("labels", "annotations"):
        values = prefixed(raw, key + ".")
        if values:
            out[key] = values
    return out if ok else None


def tier_settings(meta: Any) -> dict[str, Any]:
    """A condition's tier labels and annotations, from its slo-service/labels.* and annotations.*."""
    raw = {k: v for k, v in service_annotations(meta).items() if isinstance(v, str)}
    return {key: values for key in ("labels", "annotations") if (values := prefixed(raw, key + "."))}


def openslo_name(name: str, taken: Collection[str] = ()) -> str:
    """A DNS-label name for `name`, not in `taken`: lowercase, other characters as '-', at most 63
    characters; a short hash of the original keeps names apart that would otherwise collide."""
    base = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", name.lower())).strip("-") or "x"
    if _DNS_LABEL.match(base) and len(base) <= _MAX_NAME and base not in taken:
        return base
    digest = hashlib.sha256(name.encode()).hexdigest()
    for size in range(6, len(digest) + 1):
        candidate = f"{base[: _MAX_NAME - size - 1].rstrip('-')}-{digest[:size]}"
        if candidate not in taken:
            return candidate
    raise ValueError(f"no free OpenSLO name for {name!r}")  # 64 hex digits all taken: cannot happen
