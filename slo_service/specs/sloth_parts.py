"""Parts of the Sloth reader (sloth.py): the two spec shapes, field checks, SLO plugins and the alert policy
a Sloth SLO's `alerting` defines (Sloth's tiers, alert name, per-severity labels and annotations)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from slo_service.core.alerting.policy import AlertPolicy, sloth_tiers
from slo_service.specs.checks import check_labels
from slo_service.specs.problems import SpecFile, describe
from slo_service.specs.yaml_lines import Path as YPath

__all__ = [
    "CRD",
    "PROM",
    "SLOTH_SUMMARY",
    "SLOTH_TITLE",
    "Shape",
    "annotations_of",
    "known",
    "labels_of",
    "sloth_plugins",
    "sloth_policy",
]

# Sloth's default annotations of its alerts, in the service's {placeholder} templates
SLOTH_TITLE = "({severity}) {{service}} {{slo}} SLO error budget burn rate is too fast."
SLOTH_SUMMARY = "{service} {slo} SLO error budget burn rate is over expected."


@dataclass(frozen=True)
class Shape:
    """Field names of one Sloth shape: prometheus/v1 (snake_case) or the CRD (camelCase, under spec)."""

    root: YPath
    top: frozenset[str]
    error_query: str
    total_query: str
    error_ratio_query: str
    page_alert: str
    ticket_alert: str
    slo_plugins: str


PROM = Shape(
    (),
    frozenset({"version", "service", "labels", "slos", "slo_plugins"}),
    "error_query",
    "total_query",
    "error_ratio_query",
    "page_alert",
    "ticket_alert",
    "slo_plugins",
)
CRD = Shape(
    ("spec",),
    frozenset({"service", "labels", "slos", "sloPlugins"}),
    "errorQuery",
    "totalQuery",
    "errorRatioQuery",
    "pageAlert",
    "ticketAlert",
    "sloPlugins",
)


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def known(file: SpecFile, path: YPath, data: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> bool:
    ok = True
    for key in data:
        if key not in allowed:
            # the CRD spells prometheus/v1's fields in camelCase, and Sloth's CRD ignores the snake_case ones
            hint = f" (the Sloth CRD spells it {_camel(str(key))})" if _camel(str(key)) in allowed else ""
            file.add(
                (*path, str(key)), f"field {key!r} is not supported{hint}; supported: {', '.join(sorted(allowed))}"
            )
            ok = False
    return ok


def labels_of(file: SpecFile, path: YPath, raw: Any) -> dict[str, str] | None:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, (str, int, float)) for v in raw.values()):
        file.add(path, f"expected a mapping of label names to strings, got {describe(raw)}")
        return None
    # as Sloth reads YAML: `generated: true` is the label value "true"
    labels = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}
    return labels if check_labels(file, path, labels) else None


def annotations_of(file: SpecFile, path: YPath, raw: Any) -> dict[str, str] | None:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        file.add(path, f"expected a mapping, got {describe(raw)}")
        return None
    return {str(k): str(v) for k, v in raw.items()}


# Sloth's default chain: what this reader reproduces (sli_rules, metadata_rules, alert_rules) and plugins
# that leave the rules as they are (validation, logging).
_CORE_RULES = ("sloth.dev/core/sli_rules/v1", "sloth.dev/core/metadata_rules/v1", "sloth.dev/core/alert_rules/v1")
_NO_EFFECT = frozenset({"sloth.dev/core/validate/v1", "sloth.dev/core/debug/v1", "sloth.dev/core/noop/v1"})
_WHY = {
    "sloth.dev/contrib/validate_victoria_metrics/v1": "its SLIs are MetricsQL (VictoriaMetrics), and slo-service "
    "reads and checks PromQL",
}


def sloth_plugins(file: SpecFile, path: YPath, raw: Any) -> bool:
    """SLO plugins: Sloth's core ones and those without effect on the rules are accepted; any other is Sloth
    code changing the rules (or the query dialect), refused by id."""
    if raw is None:
        return True
    chain = raw.get("chain") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or not isinstance(chain, list):
        file.add(path, f"expected a mapping with a chain of plugins, got {describe(raw)}")
        return False
    ids = [str(p.get("id")) if isinstance(p, dict) else describe(p) for p in chain]
    ok = True
    for i, plugin in enumerate(ids):
        if plugin in _CORE_RULES or plugin in _NO_EFFECT:
            continue
        why = _WHY.get(plugin, "it changes the rules Sloth generates")
        file.add(
            (*path, "chain", i, "id"),
            f"SLO plugin {plugin!r} is Sloth code and cannot run here: {why}; remove it to import the SLOs as "
            "Sloth's core plugins define them",
        )
        ok = False
    missing = [p for p in _CORE_RULES if p not in ids]
    if ok and raw.get("overridePrevious") is True and missing:
        file.add(
            (*path, "overridePrevious"),
            f"overridePrevious without {', '.join(missing)} drops rules Sloth generates by default; "
            "slo-service generates them all",
        )
        ok = False
    return ok


def sloth_policy(file: SpecFile, path: YPath, shape: Shape, raw: Any) -> AlertPolicy | None:
    """The SLO's alert policy as Sloth generates its alerts; None after reporting a problem."""
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        file.add(path, f"expected a mapping, got {describe(raw)}")
        return None
    if not known(file, path, raw, {"name", "labels", "annotations", shape.page_alert, shape.ticket_alert}):
        return None
    labels = labels_of(file, (*path, "labels"), raw.get("labels"))
    annotations = annotations_of(file, (*path, "annotations"), raw.get("annotations"))
    per: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    disabled: set[str] = set()
    ok = labels is not None and annotations is not None
    for key, severity in ((shape.page_alert, "page"), (shape.ticket_alert, "ticket")):
        alert = {} if raw.get(key) is None else raw[key]
        if not isinstance(alert, dict):
            file.add((*path, key), f"expected a mapping, got {describe(alert)}")
            ok = False
            continue
        if not known(file, (*path, key), alert, {"disable", "labels", "annotations"}):
            ok = False
            continue
        if not isinstance(alert.get("disable", False), bool):
            file.add((*path, key, "disable"), f"expected true or false, got {describe(alert['disable'])}")
            ok = False
        if alert.get("disable") is True:
            disabled.add(severity)
        own_labels = labels_of(file, (*path, key, "labels"), alert.get("labels"))
        own_annotations = annotations_of(file, (*path, key, "annotations"), alert.get("annotations"))
        if own_labels is None or own_annotations is None:
            ok = False
            continue
        per[severity] = (own_labels, own_annotations)
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        file.add((*path, "name"), f"expected an alert name, got {describe(name)}")
        ok = False
    elif not name and disabled != {"page", "ticket"}:
        file.add(
            (*path, "name") if "name" in raw else path,
            "alerting.name is required unless page and ticket alerts are both disabled (Sloth requires it too)",
        )
        ok = False
    if not ok:
        return None
    assert labels is not None and annotations is not None

    def tier_annotations(severity: str) -> dict[str, str]:
        # Sloth's default title names the severity; the SLO's and the alert's annotations win over it
        title = {} if "title" in annotations else {"title": SLOTH_TITLE.format(severity=severity)}
        return {**title, **per[severity][1]}

    tiers = tuple(
        replace(t, labels=per[t.severity][0], annotations=tier_annotations(t.severity))
        for t in sloth_tiers()
        if t.severity not in disabled
    )
    try:
        return AlertPolicy(
            tiers=tiers,
            alert_name=name or None,
            labels=labels,
            annotations={"summary": SLOTH_SUMMARY, **annotations},
            no_data_after=None,  # Sloth generates no no-data alert
            budget_exhausted=False,  # nor a budget-exhausted one
        )
    except ValueError as exc:  # an alert name that is not a metric name
        file.add((*path, "name"), str(exc))
        return None
