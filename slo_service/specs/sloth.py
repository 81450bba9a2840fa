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
from datetime import timedelta
from typing import Any

import promql_parser

from slo_service.core.alerting.policy import AlertPolicy
from slo_service.core.model import SLI, SLO, ErrorRatioSLI, Period, RatioSLI, Service
from slo_service.specs.checks import check_name, objective_from_percent
from slo_service.specs.openslo import DEFAULT_SOURCE
from slo_service.specs.problems import SpecFile, describe
from slo_service.specs.sloth_parts import (
    CRD,
    PROM,
    Shape,
    known,
    labels_of,
    sloth_plugins,
    sloth_policy,
)
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


def is_sloth(data: Mapping[str, Any]) -> bool:
    """A Sloth document: prometheus/v1, or any sloth.slok.dev document (refused unless a service level)."""
    if data.get("version") == SLOTH_VERSION and "apiVersion" not in data:
        return True
    return isinstance(data.get("apiVersion"), str) and data["apiVersion"].startswith("sloth.slok.dev/")


def _shape(data: Mapping[str, Any]) -> Shape:
    return PROM if "apiVersion" not in data else CRD


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
    if not known(file, (), data, {"apiVersion", "kind", "metadata", "spec", "status"}):
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


def _root(data: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = data.get("spec") if "apiVersion" in data else data
    return spec if isinstance(spec, dict) else {}


def sloth_service(file: SpecFile, data: Mapping[str, Any]) -> Service | None:
    shape = _shape(data)
    root = _root(data)
    if not known(file, shape.root, root, shape.top):
        return None
    name = root.get("service")
    if not isinstance(name, str):
        file.add((*shape.root, "service"), f"expected a service name, got {describe(name)}")
        return None
    return Service(name=name) if check_name(file, (*shape.root, "service"), name) else None


def sloth_slos(
    file: SpecFile, data: Mapping[str, Any], source_kinds: Mapping[str, str | None] | None
) -> Iterator[tuple[YPath, SLO, AlertPolicy]]:
    """(path of the SLO's name, SLO, its alert policy) for every valid SLO of the document."""
    shape = _shape(data)
    root = _root(data)
    at = shape.root
    service = root.get("service")
    common = labels_of(file, (*at, "labels"), root.get("labels"))
    plugins_ok = sloth_plugins(file, (*at, shape.slo_plugins), root.get(shape.slo_plugins))
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
            ("apiVersion",) if shape is CRD else ("version",),
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
    file: SpecFile, path: YPath, shape: Shape, service: str, common: dict[str, str], raw: dict[str, Any]
) -> tuple[SLO, AlertPolicy] | None:
    allowed = {"name", "objective", "description", "labels", "sli", "alerting", "plugins"}
    if not known(file, path, raw, allowed):
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
    labels = labels_of(file, (*path, "labels"), raw.get("labels"))
    plugins_ok = sloth_plugins(file, (*path, "plugins"), raw.get("plugins"))
    sli = _sli(file, (*path, "sli"), shape, raw.get("sli"))
    policy = sloth_policy(file, (*path, "alerting"), shape, raw.get("alerting"))
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


def _sli(file: SpecFile, path: YPath, shape: Shape, raw: Any) -> SLI | None:
    if not isinstance(raw, dict):
        file.add(path, f"expected a mapping with events, raw or plugin, got {describe(raw)}")
        return None
    if not known(file, path, raw, {"events", "raw", "plugin"}):
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
        if not known(file, (*path, "raw"), body, {shape.error_ratio_query}):
            return None
        query = _query(file, (*path, "raw", shape.error_ratio_query), body.get(shape.error_ratio_query))
        return None if query is None else ErrorRatioSLI(source=DEFAULT_SOURCE, error=sloth_query(query, plain=False))
    if not known(file, (*path, "events"), body, {shape.error_query, shape.total_query}):
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
