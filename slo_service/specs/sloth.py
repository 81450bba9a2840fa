"""Sloth `version: "prometheus/v1"` files read into the core model (see openslo.py for the shared reader).

Mapping (Sloth -> core):

* ``service`` -> a service of that name (created unless defined elsewhere; several Sloth files may share it).
* ``labels`` (file) and ``slos[].labels`` -> the SLO's labels (the SLO's win).
* ``slos[].name``, ``objective`` (percent), ``description``; the period is Sloth's default, 30d rolling.
* ``slos[].sli.events.error_query`` / ``total_query`` -> a ratio SLI (bad / total) on the promql source named
  ``prometheus``, which must be defined elsewhere in the configuration (Sloth files carry no URL).
  ``{{.window}}`` becomes ``$window`` (substituted by the PromQL adapter) and ``rate(`` becomes
  ``increase(``, so the service counts events, not per-second rates (the ratio is the same).
* ``slos[].alerting.labels`` / ``annotations`` -> the SLO's alerting labels / annotations overrides;
  ``page_alert.disable`` / ``ticket_alert.disable`` -> the default tiers without the page / ticket ones.

Refused with a problem naming the field: ``sli.raw`` (an average of ratios, not events), ``sli.plugin``,
``alerting.name`` (alert names are fixed by slo-service), labels or annotations of ``page_alert`` /
``ticket_alert`` (the core has no per-severity labels), both alerts disabled, and any unknown field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from slo_service.core.alerting.policy import default_tiers
from slo_service.core.durations import format_duration
from slo_service.core.model import SLO, Period, RatioSLI, Service
from slo_service.specs.checks import check_labels, check_name, objective_from_percent
from slo_service.specs.openslo import DEFAULT_SOURCE
from slo_service.specs.problems import SpecFile, describe
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["SLOTH_PERIOD", "SLOTH_VERSION", "is_sloth", "sloth_query", "sloth_service", "sloth_slos"]

SLOTH_VERSION = "prometheus/v1"
SLOTH_PERIOD = timedelta(days=30)

_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")
_RATE = re.compile(r"\brate\s*\(")


def is_sloth(data: Mapping[str, Any]) -> bool:
    return data.get("version") == SLOTH_VERSION and "apiVersion" not in data


def sloth_query(text: str) -> str:
    """A Sloth query as the PromQL adapter takes it: `{{.window}}` -> `$window`, `rate(` -> `increase(`."""
    return _RATE.sub("increase(", _WINDOW.sub("$window", text)).strip()


def _known(file: SpecFile, path: YPath, data: Mapping[str, Any], allowed: set[str], hint: str = "") -> bool:
    ok = True
    for key in data:
        if key not in allowed:
            file.add(
                (*path, str(key)), hint or f"field {key!r} is not supported; supported: {', '.join(sorted(allowed))}"
            )
            ok = False
    return ok


def _labels(file: SpecFile, path: YPath, raw: Any) -> dict[str, str] | None:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, (str, int, float)) for v in raw.values()):
        file.add(path, f"expected a mapping of label names to strings, got {describe(raw)}")
        return None
    labels = {str(k): str(v) for k, v in raw.items()}
    return labels if check_labels(file, path, labels) else None


def sloth_service(file: SpecFile, data: Mapping[str, Any]) -> Service | None:
    if not _known(file, (), data, {"version", "service", "labels", "slos"}):
        return None
    name = data.get("service")
    if not isinstance(name, str) or not check_name(file, ("service",), name):
        if not isinstance(name, str):
            file.add(("service",), f"expected a service name, got {describe(name)}")
        return None
    return Service(name=name)


def sloth_slos(
    file: SpecFile, data: Mapping[str, Any], source_kinds: Mapping[str, str | None] | None
) -> Iterator[tuple[YPath, SLO, dict[str, Any] | None]]:
    """(path of the SLO's name, SLO, alerting overrides or None) for every valid SLO of the file."""
    service = data.get("service")
    common = _labels(file, ("labels",), data.get("labels"))
    slos = data.get("slos")
    if not isinstance(slos, list) or not slos:
        file.add(("slos",), f"expected a non-empty list of SLOs, got {describe(slos)}")
        return
    if (
        not isinstance(service, str)
        or common is None
        or not set(data) <= {"version", "service", "labels", "slos"}  # reported by sloth_service
    ):
        return
    source_ok = True
    if source_kinds is not None and source_kinds.get(DEFAULT_SOURCE, "missing") != "promql":
        got = source_kinds.get(DEFAULT_SOURCE, "missing")
        state = "is not defined" if got == "missing" else f"is a {got} source"
        file.add(
            ("version",),
            f"Sloth SLOs read the promql source named {DEFAULT_SOURCE!r}, which {state}; define "
            f"{{name: {DEFAULT_SOURCE}, type: promql, url: ...}} in a slo-service file or an OpenSLO DataSource",
        )
        source_ok = False
    for i, raw in enumerate(slos):
        path: YPath = ("slos", i)
        if not isinstance(raw, dict):
            file.add(path, f"expected a mapping, got {describe(raw)}")
            continue
        built = _slo(file, path, service, common, raw)
        if built is not None and source_ok:
            yield (*path, "name"), built[0], built[1]


def _slo(
    file: SpecFile, path: YPath, service: str, common: dict[str, str], raw: dict[str, Any]
) -> tuple[SLO, dict[str, Any] | None] | None:
    if not _known(file, path, raw, {"name", "objective", "description", "labels", "sli", "alerting"}):
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not check_name(file, (*path, "name"), name):
        if not isinstance(name, str):
            file.add((*path, "name"), f"expected an SLO name, got {describe(name)}")
        return None
    value = raw.get("objective")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        file.add((*path, "objective"), f"expected a percentage such as 99.9, got {describe(value)}")
        return None
    objective = objective_from_percent(file, (*path, "objective"), float(value))
    labels = _labels(file, (*path, "labels"), raw.get("labels"))
    sli = _sli(file, (*path, "sli"), raw.get("sli"))
    alerting = _alerting(file, (*path, "alerting"), raw.get("alerting"))
    if objective is None or labels is None or sli is None or alerting is False:
        return None
    slo = SLO(
        service=service,
        name=name,
        objective=objective,
        period=Period.rolling(SLOTH_PERIOD),
        sli=sli,
        labels={**common, **labels},
        description=str(raw.get("description") or ""),
    )
    return slo, (alerting if isinstance(alerting, dict) and alerting else None)


def _sli(file: SpecFile, path: YPath, raw: Any) -> RatioSLI | None:
    if not isinstance(raw, dict):
        file.add(path, f"expected a mapping with events, got {describe(raw)}")
        return None
    if "raw" in raw:
        file.add(
            (*path, "raw"),
            "raw SLIs (an error ratio query) are not supported: averaging ratios over windows weighs a quiet "
            "minute like a busy one; give events.error_query and events.total_query",
        )
        return None
    if "plugin" in raw:
        file.add(
            (*path, "plugin"), "SLI plugins are Sloth code and not supported; give events.error_query and total_query"
        )
        return None
    if not _known(file, path, raw, {"events"}):
        return None
    events = raw.get("events")
    if not isinstance(events, dict):
        file.add((*path, "events"), f"expected a mapping with error_query and total_query, got {describe(events)}")
        return None
    if not _known(file, (*path, "events"), events, {"error_query", "total_query"}):
        return None
    queries: dict[str, str] = {}
    for key in ("error_query", "total_query"):
        text = events.get(key)
        if not isinstance(text, str) or not text.strip():
            file.add((*path, "events", key), "required field is missing" if text is None else "must be a PromQL query")
            return None
        queries[key] = sloth_query(text)
    return RatioSLI(source=DEFAULT_SOURCE, total=queries["total_query"], bad=queries["error_query"])


def _alerting(file: SpecFile, path: YPath, raw: Any) -> dict[str, Any] | bool:
    """The SLO's alerting overrides, {} for none, False after reporting a problem."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        file.add(path, f"expected a mapping, got {describe(raw)}")
        return False
    if "name" in raw:
        file.add(
            (*path, "name"),
            "alert names are fixed by slo-service (SLOBurnRate...); route on the slo and service labels instead",
        )
        return False
    if not _known(file, path, raw, {"labels", "annotations", "page_alert", "ticket_alert"}):
        return False
    out: dict[str, Any] = {}
    for key in ("labels", "annotations"):
        if key in raw:
            values = _labels(file, (*path, key), raw[key]) if key == "labels" else raw[key]
            if not isinstance(values, dict):
                if key == "annotations":
                    file.add((*path, key), f"expected a mapping, got {describe(values)}")
                return False
            out[key] = {str(k): str(v) for k, v in values.items()}
    disabled: set[str] = set()
    for key, severity in (("page_alert", "page"), ("ticket_alert", "ticket")):
        alert = raw.get(key)
        if alert is None:
            continue
        if not isinstance(alert, dict):
            file.add((*path, key), f"expected a mapping, got {describe(alert)}")
            return False
        hint = (
            f"per-severity {{}} are not supported: the {key} of every SLO share the SLO's alerting labels and "
            "annotations; set them in alerting.labels / alerting.annotations, or route on severity"
        )
        for sub in ("labels", "annotations"):
            if alert.get(sub):
                file.add((*path, key, sub), hint.format(sub))
                return False
        if not _known(file, (*path, key), alert, {"disable", "labels", "annotations"}):
            return False
        if alert.get("disable") is True:
            disabled.add(severity)
    if disabled == {"page", "ticket"}:
        file.add(path, "both page_alert and ticket_alert are disabled: remove alerting from this SLO's policy instead")
        return False
    if disabled:
        out["tiers"] = [
            {
                "name": t.name,
                "severity": t.severity,
                "long_window": format_duration(t.long_window),
                "short_window": format_duration(t.short_window),
                "budget_share": t.budget_share,
            }
            for t in default_tiers()
            if t.severity not in disabled
        ]
    return out
