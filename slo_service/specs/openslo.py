"""OpenSLO v1 documents (and Sloth files, see sloth.py) read into the core model, and the core model
exported as OpenSLO.

A configuration directory may hold OpenSLO files (``apiVersion: openslo/v1``; one or many documents per
file, separated by ``---``) next to slo-service files: their services, data sources and SLOs join the same
`Config`, and names must be unique across all files. What the core model cannot represent is REFUSED with a
`Problem` naming the field (``file:line: field: message``), never silently dropped.

Mapping (OpenSLO -> core):

* ``Service``: metadata.name, metadata.labels (string values), spec.description (else metadata.displayName).
* ``DataSource`` with spec.type prometheus: a promql source, url from spec.connectionDetails.url.
* ``SLI`` (referenced by an SLO's indicatorRef) or an SLO's inline spec.indicator: ``ratioMetric`` good or
  bad, and total, each ``metricSource: {metricSourceRef, type: Prometheus, spec: {query}}`` -> a ratio SLI;
  ``thresholdMetric`` -> a threshold SLI whose op (lt, lte, gt, gte) and value come from the objective. The
  source is metricSourceRef, else the source named ``prometheus``. A query given to a scrape or push source
  must be a series selector (that is what `export_openslo` writes for them).
* ``SLO``: exactly one objective with target (0.999) or targetPercent (99.9); timeWindow: a rolling duration
  (28d, 4w) or a calendar 1w / 1M (isRolling false, calendar.timeZone); budgetingMethod Occurrences or
  Timeslices (objective timeSliceTarget and timeSliceWindow); metadata.labels are the SLO's labels.
* ``AlertPolicy`` named in an SLO's spec.alertPolicies (or inline there): each ``burnrate`` condition
  (op gte, lookbackWindow 1h, 6h, 1d or 3d, optional alertAfter) becomes a burn-rate tier of that SLO, with
  the short window of the SRE workbook (lookback / 12) and budget_share = threshold * lookback / period.
  notificationTargets are refused: routing lives in the slo-service `alerting:` section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from slo_service.core.durations import format_duration
from slo_service.core.model import (
    SLI,
    SLO,
    Budgeting,
    BudgetingMethod,
    CalendarUnit,
    Comparison,
    Period,
    PromQLSource,
    RatioSLI,
    Service,
    Source,
    ThresholdSLI,
)
from slo_service.core.selector import parse_selector
from slo_service.specs.checks import (
    MAX_SLICE,
    MIN_SLICE,
    check_labels,
    check_name,
    check_url,
    duration_at,
    rolling_period,
    valid_timezone,
)
from slo_service.specs.problems import Problem, SpecFile, describe
from slo_service.specs.yaml_lines import Path as YPath
from slo_service.specs.yaml_lines import YAMLSyntaxError, load_yaml_documents

__all__ = [
    "CALENDAR_START",
    "DEFAULT_SOURCE",
    "OPENSLO_API_VERSION",
    "OPS",
    "ForeignSet",
]

OPENSLO_API_VERSION = "openslo/v1"
DEFAULT_SOURCE = "prometheus"  # the source of a metric without metricSourceRef, and of every Sloth SLO
CALENDAR_START = "2024-01-01 00:00:00"  # a Monday and the first of a month: any calendar period starts there

_KINDS = ("Service", "DataSource", "SLI", "SLO", "AlertPolicy")
OPS = {"lt": Comparison.LT, "lte": Comparison.LE, "gt": Comparison.GT, "gte": Comparison.GE}
_SHORT_WINDOWS = {
    timedelta(hours=1): timedelta(minutes=5),
    timedelta(hours=6): timedelta(minutes=30),
    timedelta(days=1): timedelta(hours=2),
    timedelta(days=3): timedelta(hours=6),
}


# --------------------------------------------------------------------------------------------------------
# Reading files


@dataclass
class _Doc:
    file: SpecFile
    kind: str  # Service | DataSource | SLI | SLO | AlertPolicy | Sloth
    name: str
    data: dict[str, Any]


@dataclass
class Located:
    """A core object and where it was defined (for duplicate reports)."""

    file: SpecFile
    path: YPath
    value: Any
    implicit: bool = False  # a Sloth file's service: not a duplicate of a service defined elsewhere

    def where(self) -> str:
        return self.file.where(self.path)


@dataclass
class ForeignSet:
    """The OpenSLO and Sloth documents of a configuration, collected file by file, then built together."""

    problems: list[Problem]
    docs: list[_Doc] = field(default_factory=list)

    def read(self, name: str, text: str) -> bool | None:
        """Collect the file's documents: None when it is not an OpenSLO or Sloth file (the caller reads it);
        False when it is one but could not be read at all (after reporting); True otherwise."""
        from slo_service.specs import sloth

        looks_foreign = re.search(
            r"^\s*(apiVersion:\s*[\"']?(openslo|sloth\.slok\.dev)/|version:\s*[\"']?prometheus/v1)", text, re.M
        )
        try:
            docs = load_yaml_documents(text)
        except YAMLSyntaxError as exc:
            if not looks_foreign:
                return None
            self.problems.append(Problem(name, exc.line, "(yaml)", f"invalid YAML: {exc.message}"))
            return False
        first = next((d for d in docs if d is not None), None)
        data = first.data if first is not None else None
        if not isinstance(data, dict):
            return None
        if sloth.is_sloth(data):  # one service level per document, as Sloth reads multi-document files
            for doc in docs:
                if doc is None:
                    continue
                file = SpecFile(name, doc, self.problems)
                if sloth.sloth_document(file):
                    self.docs.append(_Doc(file, "Sloth", name, doc.data))
            return True
        if data.get("apiVersion") != OPENSLO_API_VERSION:
            if isinstance(data.get("apiVersion"), str) and data["apiVersion"].startswith("openslo/"):
                file = SpecFile(name, first, self.problems)  # type: ignore[arg-type]
                file.add(
                    ("apiVersion",), f"unsupported OpenSLO apiVersion {data['apiVersion']!r}; supported: openslo/v1"
                )
                return False
            return None
        for doc in docs:
            if doc is None:
                continue
            self._collect(SpecFile(name, doc, self.problems))
        return True

    def _collect(self, file: SpecFile) -> None:
        data = file.doc.data
        if not isinstance(data, dict):
            file.add((), f"an OpenSLO document must be a mapping, got {describe(data)}")
            return
        if data.get("apiVersion") != OPENSLO_API_VERSION:
            file.add(
                ("apiVersion",), f"expected apiVersion {OPENSLO_API_VERSION}, got {describe(data.get('apiVersion'))}"
            )
            return
        if not _known(file, (), data, {"apiVersion", "kind", "metadata", "spec"}):
            return
        kind = data.get("kind")
        if kind not in _KINDS:
            file.add(("kind",), f"unsupported OpenSLO kind {describe(kind)}; supported kinds: {', '.join(_KINDS)}")
            return
        name = _metadata_name(file, data)
        if name is None:
            return
        if not isinstance(data.get("spec"), dict):
            file.add(("spec",), f"spec must be a mapping, got {describe(data.get('spec'))}")
            return
        self.docs.append(_Doc(file, str(kind), name, data))

    # ---- building, in two steps: declarations (services, sources), then SLOs

    def services(self) -> list[Located]:
        from slo_service.specs import sloth

        out: list[Located] = []
        for doc in self._of("Service"):
            service = _service(doc)
            if service is not None:
                out.append(Located(doc.file, ("metadata", "name"), service))
        for doc in self._of("Sloth"):
            service = sloth.sloth_service(doc.file, doc.data)
            if service is not None:
                out.append(Located(doc.file, ("service",), service, implicit=True))
        return out

    def sources(self) -> list[Located]:
        out: list[Located] = []
        for doc in self._of("DataSource"):
            source = _data_source(doc)
            if source is not None:
                out.append(Located(doc.file, ("metadata", "name"), source))
        return out

    def slos(self, services: Iterable[str] | None, source_kinds: Mapping[str, str | None] | None) -> list[Located]:
        """Every SLO; `value` is (SLO, alerting overrides, a whole AlertPolicy (Sloth) or None). None arguments:
        references not checked."""
        from slo_service.specs import sloth

        ctx = _Context(
            None if services is None else set(services),
            None if source_kinds is None else dict(source_kinds),
            self._by_name("SLI"),
            self._by_name("AlertPolicy"),
        )
        out: list[Located] = []
        for doc in self._of("SLO"):
            built = _slo(doc, ctx)
            if built is not None:
                out.append(Located(doc.file, ("metadata", "name"), built))
        for doc in self._of("Sloth"):
            for path, slo, alerting in sloth.sloth_slos(doc.file, doc.data, ctx.source_kinds):
                out.append(Located(doc.file, path, (slo, alerting)))
        for kind in ("SLI", "AlertPolicy"):  # defined twice: refused
            seen: dict[str, _Doc] = {}
            for doc in self._of(kind):
                if doc.name in seen:
                    first = seen[doc.name].file.where(("metadata", "name"))
                    doc.file.add(("metadata", "name"), f"duplicate {kind} name {doc.name!r}; first defined at {first}")
                seen.setdefault(doc.name, doc)
        return out

    def _of(self, kind: str) -> list[_Doc]:
        return [d for d in self.docs if d.kind == kind]

    def _by_name(self, kind: str) -> dict[str, _Doc]:
        out: dict[str, _Doc] = {}
        for doc in self._of(kind):
            out.setdefault(doc.name, doc)
        return out


@dataclass
class _Context:
    services: set[str] | None
    source_kinds: dict[str, str | None] | None
    slis: dict[str, _Doc]
    alert_policies: dict[str, _Doc]


# --------------------------------------------------------------------------------------------------------
# Helpers


def _known(file: SpecFile, path: YPath, data: Mapping[str, Any], allowed: set[str], what: str = "") -> bool:
    """Refuse every field the mapping has beyond `allowed` (one problem per field); True when none."""
    ok = True
    for key in data:
        if key not in allowed:
            hint = f"; supported fields: {', '.join(sorted(allowed))}" if allowed else ""
            file.add((*path, key), f"{what or 'field'} {key!r} is not supported by slo-service{hint}")
            ok = False
    return ok


def _mapping(file: SpecFile, path: YPath, value: Any, *, required: bool = True) -> dict[str, Any] | None:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        file.add(path, "required field is missing" if value is None else f"expected a mapping, got {describe(value)}")
        return None
    return value


def _string(file: SpecFile, path: YPath, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        file.add(path, "required field is missing" if value is None else f"expected a string, got {describe(value)}")
        return None
    return value


def _metadata_name(file: SpecFile, data: dict[str, Any]) -> str | None:
    meta = _mapping(file, ("metadata",), data.get("metadata"))
    if meta is None:
        return None
    if not _known(file, ("metadata",), meta, {"name", "displayName", "labels"}):
        return None
    name = _string(file, ("metadata", "name"), meta.get("name"))
    if name is None or not check_name(file, ("metadata", "name"), name):
        return None
    return name


def _labels(file: SpecFile, path: YPath, value: Any) -> dict[str, str] | None:
    raw = _mapping(file, path, value, required=False)
    if raw is None:
        return None
    out: dict[str, str] = {}
    ok = True
    for key, item in raw.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            file.add((*path, key), f"label values must be single strings, got {describe(item)}")
            ok = False
        else:
            out[str(key)] = str(item)
    ok = check_labels(file, path, out) and ok
    return out if ok else None


def _service(doc: _Doc) -> Service | None:
    spec, meta = doc.data["spec"], doc.data.get("metadata") or {}
    if not _known(doc.file, ("spec",), spec, {"description"}):
        return None
    labels = _labels(doc.file, ("metadata", "labels"), meta.get("labels"))
    if labels is None:
        return None
    description = spec.get("description") or meta.get("displayName") or ""
    return Service(name=doc.name, labels=labels, description=str(description))


def _data_source(doc: _Doc) -> Source | None:
    file, spec = doc.file, doc.data["spec"]
    if not _known(file, ("spec",), spec, {"type", "connectionDetails", "description"}):
        return None
    kind = spec.get("type")
    if not isinstance(kind, str) or kind.lower() != "prometheus":
        file.add(("spec", "type"), f"data source type {describe(kind)} is not supported; only prometheus is")
        return None
    details = _mapping(file, ("spec", "connectionDetails"), spec.get("connectionDetails"))
    if details is None or not _known(file, ("spec", "connectionDetails"), details, {"url"}):
        return None
    url = _string(file, ("spec", "connectionDetails", "url"), details.get("url"))
    if url is None or not check_url(file, ("spec", "connectionDetails", "url"), url):
        return None
    return PromQLSource(name=doc.name, url=url)


# --------------------------------------------------------------------------------------------------------
# SLOs


def _slo(doc: _Doc, ctx: _Context) -> tuple[SLO, dict[str, Any] | None] | None:
    file, spec, meta = doc.file, doc.data["spec"], doc.data.get("metadata") or {}
    allowed = {
        "description", "service", "indicator", "indicatorRef", "timeWindow", "budgetingMethod", "objectives",
        "alertPolicies",
    }  # fmt: skip
    if not _known(file, ("spec",), spec, allowed):
        return None
    ok = True
    service = _string(file, ("spec", "service"), spec.get("service"))
    if service is not None and ctx.services is not None and service not in ctx.services:
        known = ", ".join(sorted(ctx.services)) or "none are defined"
        file.add(("spec", "service"), f"unknown service {service!r}; known services: {known}")
        ok = False
    labels = _labels(file, ("metadata", "labels"), meta.get("labels"))
    period = _time_window(file, spec.get("timeWindow"))
    objective, budgeting, op, value = _objectives(file, spec)
    sli = _indicator(doc, spec, ctx, op, value)
    method = spec.get("budgetingMethod")
    if isinstance(sli, ThresholdSLI) and budgeting is not None and budgeting.method is not BudgetingMethod.TIMESLICES:
        file.add(
            ("spec", "budgetingMethod"),
            f"a thresholdMetric needs budgetingMethod Timeslices (a gauge has no events to count); got {method!r}",
        )
        ok = False
    if not ok or service is None or labels is None or period is None or objective is None or budgeting is None:
        return None
    if sli is None:
        return None
    alerting = _alert_policies(doc, spec.get("alertPolicies"), ctx, period)
    if alerting is False:
        return None
    slo = SLO(
        service=service,
        name=doc.name,
        objective=objective,
        period=period,
        sli=sli,
        budgeting=budgeting,
        labels=labels,
        description=str(spec.get("description") or meta.get("displayName") or ""),
    )
    return slo, (alerting if isinstance(alerting, dict) and alerting else None)


def _time_window(file: SpecFile, raw: Any) -> Period | None:
    path: YPath = ("spec", "timeWindow")
    if not isinstance(raw, list) or len(raw) != 1:
        got = f"{len(raw)} time windows" if isinstance(raw, list) else describe(raw)
        file.add(path, f"exactly one time window is supported; got {got}")
        return None
    path = (*path, 0)
    window = _mapping(file, path, raw[0])
    if window is None or not _known(file, path, window, {"duration", "isRolling", "calendar"}):
        return None
    duration = _string(file, (*path, "duration"), window.get("duration"))
    if duration is None:
        return None
    rolling = window.get("isRolling", False)
    if rolling is True:
        if "calendar" in window:
            file.add((*path, "calendar"), "calendar only applies to windows with isRolling: false")
            return None
        if not re.fullmatch(r"\d+[mhdw]", duration.strip()):
            file.add((*path, "duration"), f"rolling duration {duration!r} must be in m, h, d or w, e.g. 28d or 4w")
            return None
        return rolling_period(file, (*path, "duration"), duration_at(file, (*path, "duration"), duration))
    if rolling is not False:
        file.add((*path, "isRolling"), f"expected true or false, got {describe(rolling)}")
        return None
    units = {"1w": CalendarUnit.WEEK, "1M": CalendarUnit.MONTH}
    if duration.strip() not in units:
        file.add((*path, "duration"), f"calendar duration {duration!r} is not supported; use 1w or 1M")
        return None
    calendar = _mapping(file, (*path, "calendar"), window.get("calendar"))
    if calendar is None or not _known(file, (*path, "calendar"), calendar, {"startTime", "timeZone"}):
        return None
    zone = calendar.get("timeZone", "UTC")
    if not isinstance(zone, str) or not valid_timezone(zone):
        file.add((*path, "calendar", "timeZone"), f"unknown time zone {describe(zone)}; use an IANA name such as UTC")
        return None
    return Period.calendar(units[duration.strip()], zone)


def _objectives(file: SpecFile, spec: dict[str, Any]) -> tuple[float | None, Budgeting | None, Comparison | None, Any]:
    """(objective, budgeting, threshold op, threshold value); None parts after reporting."""
    path: YPath = ("spec", "objectives")
    raw = spec.get("objectives")
    if not isinstance(raw, list) or len(raw) != 1:
        got = f"{len(raw)} objectives" if isinstance(raw, list) else describe(raw)
        file.add(path, f"exactly one objective is supported (one SLO per objective); got {got}")
        return None, None, None, None
    path = (*path, 0)
    obj = _mapping(file, path, raw[0])
    allowed = {"displayName", "op", "value", "target", "targetPercent", "timeSliceTarget", "timeSliceWindow"}
    if obj is None or not _known(file, path, obj, allowed):
        return None, None, None, None
    objective: float | None = None
    if ("target" in obj) == ("targetPercent" in obj):
        file.add(path, "set exactly one of target (e.g. 0.999) or targetPercent (e.g. 99.9)")
    elif "target" in obj:
        objective = _fraction(file, (*path, "target"), obj["target"], 1)
    else:
        percent = _fraction(file, (*path, "targetPercent"), obj["targetPercent"], 100)
        objective = None if percent is None else round(percent / 100, 12)
    budgeting = _budgeting(file, spec.get("budgetingMethod"), obj, path)
    op: Comparison | None = None
    if "op" in obj:
        op = OPS.get(obj["op"]) if isinstance(obj["op"], str) else None
        if op is None:
            file.add((*path, "op"), f"op must be one of {', '.join(OPS)}; got {describe(obj['op'])}")
    return objective, budgeting, op, obj.get("value")


def _fraction(file: SpecFile, path: YPath, value: Any, scale: int) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < scale:
        file.add(path, f"expected a number strictly between 0 and {scale}, got {describe(value)}")
        return None
    return float(value)


def _budgeting(file: SpecFile, method: Any, obj: dict[str, Any], path: YPath) -> Budgeting | None:
    if method == "Occurrences":
        extra = [k for k in ("timeSliceTarget", "timeSliceWindow") if k in obj]
        if extra:
            file.add((*path, extra[0]), f"{extra[0]} only applies to budgetingMethod Timeslices")
            return None
        return Budgeting()
    if method == "Timeslices":
        target = obj.get("timeSliceTarget")
        window = obj.get("timeSliceWindow")
        if target is None or window is None:
            missing = "timeSliceTarget" if target is None else "timeSliceWindow"
            file.add((*path, missing), "required with budgetingMethod Timeslices")
            return None
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target <= 1:
            file.add((*path, "timeSliceTarget"), f"expected a number in (0, 1], got {describe(target)}")
            return None
        length = duration_at(file, (*path, "timeSliceWindow"), str(window))
        if length is None:
            return None
        if length.total_seconds() % 60 or not MIN_SLICE <= length <= MAX_SLICE:
            file.add((*path, "timeSliceWindow"), f"timeSliceWindow {window} must be whole minutes between 1m and 1h")
            return None
        return Budgeting(BudgetingMethod.TIMESLICES, slice=length, slice_threshold=float(target))
    if method == "RatioTimeslices":
        file.add(("spec", "budgetingMethod"), "RatioTimeslices is not supported; use Occurrences or Timeslices")
        return None
    file.add(("spec", "budgetingMethod"), f"expected Occurrences or Timeslices, got {describe(method)}")
    return None


def _indicator(doc: _Doc, spec: dict[str, Any], ctx: _Context, op: Comparison | None, value: Any) -> SLI | None:
    file = doc.file
    inline, ref = spec.get("indicator"), spec.get("indicatorRef")
    if (inline is None) == (ref is None):
        file.add(("spec",), "set exactly one of indicator (inline SLI) or indicatorRef (the name of an SLI)")
        return None
    if ref is not None:
        if not isinstance(ref, str) or ref not in ctx.slis:
            known = ", ".join(sorted(ctx.slis)) or "none are defined"
            file.add(("spec", "indicatorRef"), f"unknown SLI {describe(ref)}; known SLIs: {known}")
            return None
        sli_doc = ctx.slis[ref]
        return _sli(sli_doc.file, ("spec",), sli_doc.data["spec"], ctx, op, value, file)
    path: YPath = ("spec", "indicator")
    sli = _mapping(file, path, inline)
    if sli is None or not _known(file, path, sli, {"metadata", "spec"}):
        return None
    sli_spec = _mapping(file, (*path, "spec"), sli.get("spec"))
    if sli_spec is None:
        return None
    return _sli(file, (*path, "spec"), sli_spec, ctx, op, value, file)


def _sli(
    file: SpecFile,
    path: YPath,
    spec: dict[str, Any],
    ctx: _Context,
    op: Comparison | None,
    value: Any,
    slo_file: SpecFile,
) -> SLI | None:
    if not _known(file, path, spec, {"description", "ratioMetric", "thresholdMetric"}):
        return None
    ratio, threshold = spec.get("ratioMetric"), spec.get("thresholdMetric")
    if (ratio is None) == (threshold is None):
        file.add(path, "set exactly one of ratioMetric or thresholdMetric")
        return None
    if threshold is not None:
        tpath: YPath = (*path, "thresholdMetric")
        metric = _metric(file, tpath, threshold, ctx)
        bad_value = isinstance(value, bool) or not isinstance(value, (int, float))
        if op is None or bad_value:
            slo_file.add(("spec", "objectives", 0), "a thresholdMetric needs op (lt, lte, gt, gte) and value")
            return None
        if metric is None:
            return None
        return ThresholdSLI(source=metric[0], metric=metric[1], op=op, value=float(value))
    rpath: YPath = (*path, "ratioMetric")
    body = _mapping(file, rpath, ratio)
    if body is None:
        return None
    if "rawType" in body or "raw" in body:
        key = "rawType" if "rawType" in body else "raw"
        file.add(
            (*rpath, key), "raw ratio metrics (a precomputed ratio) are not supported; give good or bad, and total"
        )
        return None
    if not _known(file, rpath, body, {"counter", "good", "bad", "total"}):
        return None
    if ("good" in body) == ("bad" in body):
        file.add(rpath, "set exactly one of good or bad (the other is total minus it)")
        return None
    queries: dict[str, tuple[str, str]] = {}
    for key in ("good", "bad", "total"):
        if key in body:
            found = _metric(file, (*rpath, key), body[key], ctx)
            if found is None:
                return None
            queries[key] = found
    sources = {s for s, _ in queries.values()}
    if len(sources) != 1:
        file.add(rpath, f"good/bad and total must use the same data source; got {', '.join(sorted(sources))}")
        return None
    good, bad = queries.get("good"), queries.get("bad")
    return RatioSLI(
        source=sources.pop(),
        total=queries["total"][1],
        good=good[1] if good else None,
        bad=bad[1] if bad else None,
    )


def _metric(file: SpecFile, path: YPath, raw: Any, ctx: _Context) -> tuple[str, str] | None:
    """(source name, query) of `{metricSource: {metricSourceRef, type: Prometheus, spec: {query}}}`."""
    body = _mapping(file, path, raw)
    if body is None or not _known(file, path, body, {"metricSource"}):
        return None
    path = (*path, "metricSource")
    ms = _mapping(file, path, body.get("metricSource"))
    if ms is None or not _known(file, path, ms, {"metricSourceRef", "type", "spec"}):
        return None
    kind = ms.get("type")
    if not isinstance(kind, str) or kind.lower() != "prometheus":
        file.add((*path, "type"), f"metric source type {describe(kind)} is not supported; only Prometheus is")
        return None
    source = ms.get("metricSourceRef", DEFAULT_SOURCE)
    if not isinstance(source, str):
        file.add((*path, "metricSourceRef"), f"expected a data source name, got {describe(source)}")
        return None
    spec = _mapping(file, (*path, "spec"), ms.get("spec"))
    if spec is None or not _known(file, (*path, "spec"), spec, {"query"}):
        return None
    query = _string(file, (*path, "spec", "query"), spec.get("query"))
    if query is None:
        return None
    kinds = ctx.source_kinds
    if kinds is not None:
        where: YPath = (*path, "metricSourceRef") if "metricSourceRef" in ms else path
        if source not in kinds:
            known = ", ".join(sorted(kinds)) or "none are defined"
            file.add(where, f"unknown data source {source!r}; known sources: {known}")
            return None
        if kinds[source] in ("scrape", "push"):
            try:
                parse_selector(query)
            except ValueError as exc:
                file.add((*path, "spec", "query"), f"{exc} ({kinds[source]} sources take a series selector)")
                return None
    return source, query.strip()


# --------------------------------------------------------------------------------------------------------
# Alert policies


def _alert_policies(doc: _Doc, raw: Any, ctx: _Context, period: Period) -> dict[str, Any] | bool:
    """The SLO's alerting overrides ({"tiers": [...]}), {} for none, False after reporting a problem."""
    if raw is None:
        return {}
    file = doc.file
    if not isinstance(raw, list):
        file.add(("spec", "alertPolicies"), f"expected a list, got {describe(raw)}")
        return False
    tiers: list[dict[str, Any]] = []
    ok = True
    for i, item in enumerate(raw):
        path: YPath = ("spec", "alertPolicies", i)
        if isinstance(item, str):
            policy = ctx.alert_policies.get(item)
            if policy is None:
                known = ", ".join(sorted(ctx.alert_policies)) or "none are defined"
                file.add(path, f"unknown AlertPolicy {item!r}; known alert policies: {known}")
                ok = False
                continue
            found = _alert_policy(policy.file, ("spec",), policy.data["spec"], period)
        elif isinstance(item, dict) and isinstance(item.get("spec"), dict):
            found = _alert_policy(file, (*path, "spec"), item["spec"], period)
        else:
            file.add(path, "expected an AlertPolicy name or an inline AlertPolicy with a spec")
            found = None
        if found is None:
            ok = False
        else:
            tiers.extend(found)
    if not ok:
        return False
    return {"tiers": tiers} if tiers else {}


def _alert_policy(file: SpecFile, path: YPath, spec: dict[str, Any], period: Period) -> list[dict[str, Any]] | None:
    allowed = {"description", "alertWhenBreaching", "alertWhenResolved", "alertWhenNoData", "conditions"}
    if not _known(file, path, spec, allowed):
        return None
    for key, default in (("alertWhenBreaching", True), ("alertWhenResolved", True), ("alertWhenNoData", False)):
        if key in spec and spec[key] is not default:
            file.add(
                (*path, key),
                f"{key}: {spec[key]!r} is not supported: slo-service alerts on breaches and sends resolutions per "
                "receiver (send_resolved); no-data alerts are set with the policy's no_data_after",
            )
            return None
    conditions = spec.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        file.add((*path, "conditions"), "expected a non-empty list of AlertCondition")
        return None
    out: list[dict[str, Any]] = []
    for i, cond in enumerate(conditions):
        cpath: YPath = (*path, "conditions", i)
        if not isinstance(cond, dict) or "conditionRef" in cond:
            file.add(cpath, "give each condition inline (kind: AlertCondition); conditionRef is not supported")
            return None
        if not _known(file, cpath, cond, {"kind", "metadata", "spec"}):
            return None
        meta: dict[str, Any] = cond["metadata"] if isinstance(cond.get("metadata"), dict) else {}
        cspec = _mapping(file, (*cpath, "spec"), cond.get("spec"))
        if cspec is None or not _known(file, (*cpath, "spec"), cspec, {"description", "severity", "condition"}):
            return None
        tier = _condition(file, (*cpath, "spec"), cspec, period, str(meta.get("name") or f"condition-{i}"))
        if tier is None:
            return None
        out.append(tier)
    return out


def _condition(file: SpecFile, path: YPath, spec: dict[str, Any], period: Period, name: str) -> dict[str, Any] | None:
    severity = _string(file, (*path, "severity"), spec.get("severity"))
    cpath: YPath = (*path, "condition")
    cond = _mapping(file, cpath, spec.get("condition"))
    if severity is None or cond is None:
        return None
    if not _known(file, cpath, cond, {"kind", "op", "threshold", "lookbackWindow", "alertAfter"}):
        return None
    if cond.get("kind") != "burnrate":
        file.add((*cpath, "kind"), f"only burnrate conditions are supported; got {describe(cond.get('kind'))}")
        return None
    if cond.get("op", "gte") != "gte":
        file.add(
            (*cpath, "op"), f"a burn-rate condition fires at or above its threshold: op must be gte, got {cond['op']!r}"
        )
        return None
    threshold = cond.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold <= 0:
        file.add((*cpath, "threshold"), f"expected a positive burn rate, got {describe(threshold)}")
        return None
    lookback = duration_at(file, (*cpath, "lookbackWindow"), str(cond.get("lookbackWindow")))
    if lookback is None:
        return None
    short = _SHORT_WINDOWS.get(lookback)
    if short is None:
        names = ", ".join(format_duration(w) for w in _SHORT_WINDOWS)
        file.add(
            (*cpath, "lookbackWindow"), f"lookbackWindow {format_duration(lookback)} is not supported; use {names}"
        )
        return None
    tier: dict[str, Any] = {
        "name": name,
        "severity": severity,
        "long_window": format_duration(lookback),
        "short_window": format_duration(short),
        "budget_share": round(float(threshold) * (lookback / period.nominal_length), 12),
    }
    if "alertAfter" in cond:
        tier["for"] = str(cond["alertAfter"])
    return tier
