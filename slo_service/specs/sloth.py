"""Sloth specs read into the core model as Sloth defines them (see openslo.py for the shared reader).

Two shapes: ``version: "prometheus/v1"`` files and the Kubernetes ``PrometheusServiceLevel`` CRD
(``apiVersion: sloth.slok.dev/v1``, the same fields under ``spec`` in camelCase). A file may hold several
documents (``---``), each one service.

Mapping (Sloth -> core):

* ``service`` -> a service of that name (created unless defined elsewhere; several Sloth files may share it).
* ``labels`` (file) and ``slos[].labels`` -> the SLO's labels (the SLO's win).
* ``slos[].name``, ``objective`` (percent), ``description``; the period is Sloth's, 30d rolling.
* SLIs read the promql source named ``prometheus``, which must be defined elsewhere (Sloth files carry no
  URL); ``{{.window}}`` becomes ``$window``:

  - ``events`` whose two queries are plain counter rates (``sum(rate(x[{{.window}}]))``, sums of them, with
    ``by``/``without``, ``+``/``-``) -> a ratio SLI counting events: ``rate(`` becomes ``increase(``, which
    keeps the ratio and makes the counts events;
  - any other ``events`` -> a ratio SLI of the queries AS WRITTEN, each read per collection interval:
    a window's ratio is the sum of the error values over the sum of the total values, which is Sloth's
    ``(error)/(total)`` over the window when both queries add up over time (``increase``,
    ``sum_over_time``, ``count_over_time``) or both are averages (``rate``, ``avg_over_time``);
  - ``raw.error_ratio_query`` -> an error-ratio SLI (``core.model.ErrorRatioSLI``);
  - ``plugin`` -> refused, naming the plugin: its code is Sloth's.

* ``alerting`` -> the SLO's whole alert policy, as Sloth generates it: Sloth's tiers
  (``core.alerting.policy.sloth_tiers``: pages 14.4x 1h/5m and 6x 6h/30m, tickets 3x 1d/2h and 1x 3d/6h),
  burn alerts named ``alerting.name``, ``alerting.labels`` / ``annotations`` on both, ``page_alert`` /
  ``ticket_alert`` labels and annotations on their own tiers, ``disable: true`` removing them; no
  no-data nor budget-exhausted alert (Sloth has none). ``alerting.name`` is required unless both are
  disabled, as in Sloth.

Refused with a problem naming the field: SLI and SLO plugins (by id), Sloth ``AlertWindows`` documents,
queries without ``{{.window}}`` or that are not PromQL, and any unknown field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import promql_parser

from slo_service.core.alerting.policy import AlertPolicy, sloth_tiers
from slo_service.core.model import SLI, SLO, ErrorRatioSLI, Period, RatioSLI, Service
from slo_service.specs.checks import check_labels, check_name, objective_from_percent
from slo_service.specs.openslo import DEFAULT_SOURCE
from slo_service.specs.problems import SpecFile, describe
from slo_service.specs.yaml_lines import Path as YPath

__all__ = [
    "SLOTH_API_VERSION",
    "SLOTH_PERIOD",
    "SLOTH_VERSION",
    "is_plain_rate",
    "is_sloth",
    "sloth_document",
    "sloth_query",
    "sloth_service",
    "sloth_slos",
]

SLOTH_VERSION = "prometheus/v1"
SLOTH_API_VERSION = "sloth.slok.dev/v1"
SLOTH_KIND = "PrometheusServiceLevel"
SLOTH_PERIOD = timedelta(days=30)

_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")
_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.S)
_RATE = re.compile(r"\brate\s*\(")
_PROBE = timedelta(seconds=987654)  # stands for {{.window}} when parsing: no one writes this range
_PROBE_TEXT = "987654s"


@dataclass(frozen=True)
class _Shape:
    """Field names of one Sloth shape: prometheus/v1 (snake_case) or the CRD (camelCase, under spec)."""

    root: YPath
    top: frozenset[str]
    error_query: str
    total_query: str
    error_ratio_query: str
    page_alert: str
    ticket_alert: str
    slo_plugins: str


_PROM = _Shape(
    (),
    frozenset({"version", "service", "labels", "slos", "slo_plugins"}),
    "error_query",
    "total_query",
    "error_ratio_query",
    "page_alert",
    "ticket_alert",
    "slo_plugins",
)
_CRD = _Shape(
    ("spec",),
    frozenset({"service", "labels", "slos", "sloPlugins"}),
    "errorQuery",
    "totalQuery",
    "errorRatioQuery",
    "pageAlert",
    "ticketAlert",
    "sloPlugins",
)


def is_sloth(data: Mapping[str, Any]) -> bool:
    """A Sloth document: prometheus/v1, or any sloth.slok.dev document (refused unless a service level)."""
    if data.get("version") == SLOTH_VERSION and "apiVersion" not in data:
        return True
    return isinstance(data.get("apiVersion"), str) and data["apiVersion"].startswith("sloth.slok.dev/")


def _shape(data: Mapping[str, Any]) -> _Shape:
    return _PROM if "apiVersion" not in data else _CRD


def sloth_document(file: SpecFile) -> bool:
    """Whether the document is a Sloth service level this reader takes (reporting why not)."""
    data = file.doc.data
    if not isinstance(data, dict) or not is_sloth(data):
        file.add((), "every document of a Sloth file must be a Sloth service level (prometheus/v1 or CRD)")
        return False
    if "apiVersion" not in data:
        return True
    if data.get("apiVersion") != SLOTH_API_VERSION:
        file.add(
            ("apiVersion",), f"unsupported Sloth apiVersion {data['apiVersion']!r}; supported: {SLOTH_API_VERSION}"
        )
        return False
    if data.get("kind") == "AlertWindows":
        file.add(
            ("kind",),
            "Sloth AlertWindows are options of Sloth's own command line, not part of a spec; Sloth specs are "
            "imported with Sloth's default 30d windows (core.alerting.policy.sloth_tiers); give other tiers "
            "in a slo-service alerting policy instead",
        )
        return False
    if data.get("kind") != SLOTH_KIND:
        file.add(("kind",), f"unsupported Sloth kind {describe(data.get('kind'))}; supported: {SLOTH_KIND}")
        return False
    if not _known(file, (), data, {"apiVersion", "kind", "metadata", "spec", "status"}):
        return False
    if not isinstance(data.get("spec"), dict):
        file.add(("spec",), f"expected a mapping, got {describe(data.get('spec'))}")
        return False
    return True


def sloth_query(text: str, plain: bool = True) -> str:
    """A Sloth query as the PromQL adapter takes it: `{{.window}}` -> `$window`, and for plain counter
    rates `rate(` -> `increase(`."""
    out = _WINDOW.sub("$window", text).strip()
    return _RATE.sub("increase(", out) if plain else out


def is_plain_rate(text: str) -> bool:
    """A Sloth query that is a sum of counter rates over the window (with by/without, + and -): its rate and
    its increase differ only by the window's length, so the ratio of two such queries is the same."""
    try:
        expr = promql_parser.parse(_WINDOW.sub(_PROBE_TEXT, text))
    except Exception:  # promql_parser raises a bare Exception type on syntax errors
        return False
    return _plain(expr)


def _plain(expr: Any) -> bool:
    if isinstance(expr, promql_parser.ParenExpr):
        return _plain(expr.expr)
    if isinstance(expr, promql_parser.AggregateExpr):
        return str(expr.op) == "sum" and expr.param is None and _plain(expr.expr)
    if isinstance(expr, promql_parser.BinaryExpr):
        return str(expr.op) in {"+", "-"} and expr.modifier is None and _plain(expr.lhs) and _plain(expr.rhs)
    if isinstance(expr, promql_parser.Call) and expr.func.name in {"rate", "increase"} and len(expr.args) == 1:
        arg = expr.args[0]
        return (
            isinstance(arg, promql_parser.MatrixSelector)
            and arg.range == _PROBE
            and arg.vector_selector.offset is None
            and arg.vector_selector.at is None
        )
    return False


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _known(file: SpecFile, path: YPath, data: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> bool:
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


def _labels(file: SpecFile, path: YPath, raw: Any) -> dict[str, str] | None:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, (str, int, float)) for v in raw.values()):
        file.add(path, f"expected a mapping of label names to strings, got {describe(raw)}")
        return None
    # as Sloth reads YAML: `generated: true` is the label value "true"
    labels = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}
    return labels if check_labels(file, path, labels) else None


def _annotations(file: SpecFile, path: YPath, raw: Any) -> dict[str, str] | None:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        file.add(path, f"expected a mapping, got {describe(raw)}")
        return None
    return {str(k): str(v) for k, v in raw.items()}


def _root(data: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = data.get("spec") if "apiVersion" in data else data
    return spec if isinstance(spec, dict) else {}


def sloth_service(file: SpecFile, data: Mapping[str, Any]) -> Service | None:
    shape = _shape(data)
    root = _root(data)
    if not _known(file, shape.root, root, shape.top):
        return None
    name = root.get("service")
    if not isinstance(name, str):
        file.add((*shape.root, "service"), f"expected a service name, got {describe(name)}")
        return None
    return Service(name=name) if check_name(file, (*shape.root, "service"), name) else None


# Sloth's default chain: what this reader reproduces (sli_rules, metadata_rules, alert_rules) and plugins
# that leave the rules as they are (validation, logging).
_CORE_RULES = ("sloth.dev/core/sli_rules/v1", "sloth.dev/core/metadata_rules/v1", "sloth.dev/core/alert_rules/v1")
_NO_EFFECT = frozenset({"sloth.dev/core/validate/v1", "sloth.dev/core/debug/v1", "sloth.dev/core/noop/v1"})
_WHY = {
    "sloth.dev/contrib/validate_victoria_metrics/v1": "its SLIs are MetricsQL (VictoriaMetrics), and slo-service "
    "reads and checks PromQL",
}


def _plugins(file: SpecFile, path: YPath, raw: Any) -> bool:
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


def sloth_slos(
    file: SpecFile, data: Mapping[str, Any], source_kinds: Mapping[str, str | None] | None
) -> Iterator[tuple[YPath, SLO, AlertPolicy]]:
    """(path of the SLO's name, SLO, its alert policy) for every valid SLO of the document."""
    shape = _shape(data)
    root = _root(data)
    at = shape.root
    service = root.get("service")
    common = _labels(file, (*at, "labels"), root.get("labels"))
    plugins_ok = _plugins(file, (*at, shape.slo_plugins), root.get(shape.slo_plugins))
    slos = root.get("slos")
    if not isinstance(slos, list) or not slos:
        file.add((*at, "slos"), f"expected a non-empty list of SLOs, got {describe(slos)}")
        return
    if not isinstance(service, str) or common is None or not plugins_ok or not set(root) <= shape.top:
        return  # the service and unknown fields are reported by sloth_service
    source_ok = True
    if source_kinds is not None and source_kinds.get(DEFAULT_SOURCE, "missing") != "promql":
        got = source_kinds.get(DEFAULT_SOURCE, "missing")
        state = "is not defined" if got == "missing" else f"is a {got} source"
        file.add(
            ("apiVersion",) if shape is _CRD else ("version",),
            f"Sloth SLOs read the promql source named {DEFAULT_SOURCE!r}, which {state}; define "
            f"{{name: {DEFAULT_SOURCE}, type: promql, url: ...}} in a slo-service file or an OpenSLO DataSource",
        )
        source_ok = False
    for i, raw in enumerate(slos):
        path: YPath = (*at, "slos", i)
        if not isinstance(raw, dict):
            file.add(path, f"expected a mapping, got {describe(raw)}")
            continue
        built = _slo(file, path, shape, service, common, raw)
        if built is not None and source_ok:
            yield (*path, "name"), built[0], built[1]


def _slo(
    file: SpecFile, path: YPath, shape: _Shape, service: str, common: dict[str, str], raw: dict[str, Any]
) -> tuple[SLO, AlertPolicy] | None:
    allowed = {"name", "objective", "description", "labels", "sli", "alerting", "plugins"}
    if not _known(file, path, raw, allowed):
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
    plugins_ok = _plugins(file, (*path, "plugins"), raw.get("plugins"))
    sli = _sli(file, (*path, "sli"), shape, raw.get("sli"))
    policy = _alerting(file, (*path, "alerting"), shape, raw.get("alerting"))
    if objective is None or labels is None or sli is None or policy is None or not plugins_ok:
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
    return slo, policy


def _query(file: SpecFile, path: YPath, text: Any) -> str | None:
    """The query with `{{.window}}` checked (Sloth requires it) and parsed as PromQL; None after a problem."""
    if not isinstance(text, str) or not text.strip():
        file.add(path, "required field is missing" if text is None else "must be a PromQL query")
        return None
    if not _WINDOW.search(text):
        file.add(path, "the query must use the {{.window}} variable (Sloth requires it)")
        return None
    other = _TEMPLATE.search(_WINDOW.sub("", text))
    if other:
        file.add(path, f"only the {{{{.window}}}} template variable is known to Sloth, got {other.group(0)}")
        return None
    try:
        promql_parser.parse(_WINDOW.sub("5m", text))
    except Exception as exc:  # promql_parser raises a bare Exception type on syntax errors
        file.add(path, f"not a PromQL query: {str(exc).strip().splitlines()[0]}")
        return None
    return text


def _sli(file: SpecFile, path: YPath, shape: _Shape, raw: Any) -> SLI | None:
    if not isinstance(raw, dict):
        file.add(path, f"expected a mapping with events, raw or plugin, got {describe(raw)}")
        return None
    if not _known(file, path, raw, {"events", "raw", "plugin"}):
        return None
    given = [k for k in ("events", "raw", "plugin") if raw.get(k) is not None]
    if len(given) != 1:
        what = "one of events, raw and plugin is required" if not given else "only one SLI type is allowed"
        file.add(path, f"{what} (Sloth refuses it too)")
        return None
    kind = given[0]
    body = raw[kind]
    if not isinstance(body, dict):
        file.add((*path, kind), f"expected a mapping, got {describe(body)}")
        return None
    if kind == "plugin":
        plugin = body.get("id")
        file.add(
            (*path, "plugin"),
            f"SLI plugin {plugin!r} is Sloth code and cannot run here; write the queries it generates as "
            f"sli.events ({shape.error_query}, {shape.total_query}) or sli.raw ({shape.error_ratio_query})",
        )
        return None
    if kind == "raw":
        if not _known(file, (*path, "raw"), body, {shape.error_ratio_query}):
            return None
        query = _query(file, (*path, "raw", shape.error_ratio_query), body.get(shape.error_ratio_query))
        return None if query is None else ErrorRatioSLI(source=DEFAULT_SOURCE, error=sloth_query(query, plain=False))
    if not _known(file, (*path, "events"), body, {shape.error_query, shape.total_query}):
        return None
    error = _query(file, (*path, "events", shape.error_query), body.get(shape.error_query))
    total = _query(file, (*path, "events", shape.total_query), body.get(shape.total_query))
    if error is None or total is None:
        return None
    if error.strip() == total.strip():
        file.add((*path, "events"), "the error and total queries are the same (Sloth refuses it too)")
        return None
    if is_plain_rate(error) and is_plain_rate(total):
        return RatioSLI(source=DEFAULT_SOURCE, total=sloth_query(total), bad=sloth_query(error))
    return ErrorRatioSLI(
        source=DEFAULT_SOURCE, error=sloth_query(error, plain=False), total=sloth_query(total, plain=False)
    )


def _alerting(file: SpecFile, path: YPath, shape: _Shape, raw: Any) -> AlertPolicy | None:
    """The SLO's alert policy as Sloth generates its alerts; None after reporting a problem."""
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        file.add(path, f"expected a mapping, got {describe(raw)}")
        return None
    if not _known(file, path, raw, {"name", "labels", "annotations", shape.page_alert, shape.ticket_alert}):
        return None
    labels = _labels(file, (*path, "labels"), raw.get("labels"))
    annotations = _annotations(file, (*path, "annotations"), raw.get("annotations"))
    per: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    disabled: set[str] = set()
    ok = labels is not None and annotations is not None
    for key, severity in ((shape.page_alert, "page"), (shape.ticket_alert, "ticket")):
        alert = {} if raw.get(key) is None else raw[key]
        if not isinstance(alert, dict):
            file.add((*path, key), f"expected a mapping, got {describe(alert)}")
            ok = False
            continue
        if not _known(file, (*path, key), alert, {"disable", "labels", "annotations"}):
            ok = False
            continue
        if not isinstance(alert.get("disable", False), bool):
            file.add((*path, key, "disable"), f"expected true or false, got {describe(alert['disable'])}")
            ok = False
        if alert.get("disable") is True:
            disabled.add(severity)
        own_labels = _labels(file, (*path, key, "labels"), alert.get("labels"))
        own_annotations = _annotations(file, (*path, key, "annotations"), alert.get("annotations"))
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
    tiers = tuple(
        replace(t, labels=per[t.severity][0], annotations=per[t.severity][1])
        for t in sloth_tiers()
        if t.severity not in disabled
    )
    try:
        return AlertPolicy(
            tiers=tiers,
            alert_name=name or None,
            labels=labels,
            annotations=annotations,
            no_data_after=None,  # Sloth generates no no-data alert
            budget_exhausted=False,  # nor a budget-exhausted one
        )
    except ValueError as exc:  # an alert name that is not a metric name
        file.add((*path, "name"), str(exc))
        return None
