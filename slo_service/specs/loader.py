"""Read slo-service YAML files into the core `Config`, reporting every problem as file:line: field: message.

Reading happens in two passes. Each file is parsed on its own (YAML syntax, apiVersion, structure and
types through the pydantic specs, item by item). Then all items of all files are checked together:
names, durations, ranges, selectors, duplicate names and references between sections, because
services, sources and SLOs may be split across files.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from slo_service.core.alerting.config import AlertingConfig
from slo_service.core.alerting.explain import explain_tiers
from slo_service.core.durations import format_duration
from slo_service.core.model import (
    SLI,
    SLO,
    Aggregation,
    Budgeting,
    BudgetingMethod,
    CalendarUnit,
    Comparison,
    Config,
    LatencySLI,
    Period,
    PromQLSource,
    PushSource,
    RatioSLI,
    ScrapeSource,
    Service,
    Source,
    ThresholdSLI,
)
from slo_service.core.selector import parse_selector
from slo_service.specs.checks import (
    MAX_SLICE,
    METRIC_NAME,
    MIN_SLICE,
    check_labels,
    check_name,
    check_url,
    duration_at,
    number_text,
    objective_from_percent,
    rolling_period,
    valid_timezone,
)
from slo_service.specs.problems import ConfigError, Problem, SpecFile, describe, field_name, validate_spec
from slo_service.specs.schema import (
    SOURCE_SPECS,
    SOURCE_TYPES,
    SUPPORTED_API_VERSIONS,
    BudgetingSpec,
    DocumentSpec,
    LatencySpec,
    PeriodSpec,
    PromQLSourceSpec,
    PushSourceSpec,
    RatioSpec,
    ScrapeSourceSpec,
    ServiceSpec,
    SLOSpec,
    ThresholdSpec,
)
from slo_service.specs.yaml_lines import Path as YPath
from slo_service.specs.yaml_lines import YAMLSyntaxError, load_yaml

if TYPE_CHECKING:  # specs/monitors.py builds on this module's helpers; imported lazily when building
    from slo_service.specs.monitors import MonitorItem, MonitorSet

__all__ = ["ConfigError", "Problem", "expand_paths", "load_config", "validate_files"]

YAML_SUFFIXES = (".yaml", ".yml")


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; a directory stands for its *.yaml / *.yml files, sorted by name. No duplicates."""
    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        try:
            is_dir = path.is_dir()
            found = sorted(p for p in path.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file()) if is_dir else []
        except OSError:  # an unreadable directory: reading it as a file reports the problem
            is_dir, found = False, []
        if not is_dir:
            found = [path]
        for p in found:
            try:
                key = p.resolve()
            except (OSError, RuntimeError):  # e.g. a symlink loop; reading it reports the problem
                key = p.absolute()
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out


def validate_files(paths: Iterable[str | Path]) -> list[Problem]:
    """Every problem in the given files and directories; [] when they form a valid configuration."""
    return _Loader().run(_as_list(paths))[1]


def load_config(paths: Iterable[str | Path]) -> Config:
    """The `Config` described by the given files and directories; raise ConfigError listing every problem."""
    config, problems = _Loader().run(_as_list(paths))
    if problems or config is None:
        raise ConfigError(problems)
    return config


def _as_list(paths: Iterable[str | Path] | str | Path) -> list[str | Path]:
    """A single path given by mistake (a str is iterable) still means that one path."""
    return [paths] if isinstance(paths, (str, Path)) else list(paths)


# --------------------------------------------------------------------------------------------------------
# Per-file context and pydantic error translation


@dataclass
class _Item:
    """One entry of services / sources / slos, with the spec when its structure was valid."""

    file: SpecFile
    path: YPath
    raw: dict[str, Any]
    spec: Any | None


# --------------------------------------------------------------------------------------------------------
# The loader


@dataclass
class _Loader:
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    services: list[_Item] = field(default_factory=list)
    sources: list[_Item] = field(default_factory=list)
    slos: list[_Item] = field(default_factory=list)
    # Set when some file could not be read completely: its services or sources are unknown, so an SLO
    # naming one of them must not be reported as referring to an unknown service or source.
    services_incomplete: bool = False
    sources_incomplete: bool = False
    # The one `alerting:` section (file, raw mapping), see specs/alerting.py; a second one is a problem.
    alerting: tuple[SpecFile, Any] | None = None
    files_incomplete: bool = False
    # OpenSLO and Sloth files (specs/openslo.py, specs/sloth.py): read like the others, merged when building.
    foreign: Any = None
    # Entries of `monitors:` lists (drift monitors), checked in pass 2 by specs/monitors.py.
    monitors: list[MonitorItem] = field(default_factory=list)
    monitors_incomplete: bool = False

    def run(self, paths: list[str | Path]) -> tuple[Config | None, list[Problem]]:
        if not paths:
            self.problems.append(Problem("(no files)", None, "(file)", "no configuration files given"))
            return None, self.problems
        for raw in paths:
            path = Path(raw)
            if path.is_dir() and not expand_paths([path]):
                self.problems.append(Problem(str(path), None, "(file)", "directory holds no *.yaml or *.yml files"))
        for path in expand_paths(paths):
            self.files.append(str(path))
            try:
                if not self._read_file(path):
                    self.services_incomplete = self.sources_incomplete = self.files_incomplete = True
            except Exception as exc:  # never let a stack trace escape to the user
                self.services_incomplete = self.sources_incomplete = self.files_incomplete = True
                self.problems.append(Problem(str(path), None, "(file)", f"internal error while reading: {exc!r}"))
        config: Config | None = None
        try:
            config = self._build()
        except Exception as exc:  # pragma: no cover - a bug, but still reported as a problem
            where = self.files[0] if self.files else "(no files)"
            self.problems.append(Problem(where, None, "(config)", f"internal error: {exc!r}"))
        order = {name: i for i, name in enumerate(self.files)}
        self.problems.sort(key=lambda p: (order.get(p.file, -1), p.line or 0))
        return (None if self.problems else config), self.problems

    # ---- pass 1: one file at a time

    def _read_file(self, path: Path) -> bool:
        """Check one file and collect its items; False when its items could not be read at all."""
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.problems.append(Problem(name, None, "(file)", "file not found"))
            return False
        except UnicodeDecodeError as exc:
            self.problems.append(Problem(name, None, "(file)", f"not UTF-8 text: {exc.reason}"))
            return False
        except OSError as exc:
            self.problems.append(Problem(name, None, "(file)", f"cannot read file: {exc.strerror or exc}"))
            return False
        foreign = self._foreign().read(name, text)
        if foreign is not None:
            return bool(foreign)
        try:
            doc = load_yaml(text)
        except YAMLSyntaxError as exc:
            self.problems.append(Problem(name, exc.line, "(yaml)", f"invalid YAML: {exc.message}"))
            return False
        supported = ", ".join(SUPPORTED_API_VERSIONS)
        if doc is None:
            self.problems.append(
                Problem(name, None, "(file)", f"file is empty; expected a mapping with apiVersion: {supported}")
            )
            return False
        file = SpecFile(name, doc, self.problems)
        for dup_path, line, first in doc.duplicates:
            self.problems.append(
                Problem(
                    name,
                    line,
                    field_name(dup_path),
                    f"duplicate key {dup_path[-1]!r}; first given at line {first} "
                    "(YAML would silently keep only the last)",
                )
            )
        data = doc.data
        if not isinstance(data, dict):
            file.add(
                (),
                f"the top level must be a mapping with apiVersion, services, sources and slos; got {describe(data)}",
            )
            return False
        version = data.get("apiVersion")
        if version is None:
            file.add(("apiVersion",), f"apiVersion is missing; supported versions: {supported}")
            return False
        if version not in SUPPORTED_API_VERSIONS:
            file.add(("apiVersion",), f"unsupported apiVersion {version!r}; supported versions: {supported}")
            return False
        # A bad top-level field is reported, but the sections that are lists are still checked item by item.
        # `alerting` is read in pass 2 (specs/alerting.py), from at most one file.
        validate_spec(file, DocumentSpec, data, ())
        if "alerting" in data:
            if self.alerting is None:
                self.alerting = (file, data["alerting"])
            else:
                first_at = self.alerting[0].where(("alerting",))
                file.add(
                    ("alerting",),
                    f"alerting is defined in more than one file: here and at {first_at}; keep it in one file",
                )
        if not isinstance(data.get("services", []), list | None):
            self.services_incomplete = True
        if not isinstance(data.get("sources", []), list | None):
            self.sources_incomplete = True
        for i, raw in enumerate(_section(data, "services")):
            self.services.append(self._item(file, ("services", i), raw, ServiceSpec))
        for i, raw in enumerate(_section(data, "sources")):
            self.sources.append(self._source_item(file, ("sources", i), raw))
        for i, raw in enumerate(_section(data, "slos")):
            self.slos.append(self._item(file, ("slos", i), raw, SLOSpec))
        if not isinstance(data.get("monitors", []), list | None):
            self.monitors_incomplete = True
        if data.get("monitors"):
            from slo_service.specs.monitors import MonitorItem

            self.monitors.extend(
                MonitorItem(file, ("monitors", i), raw) for i, raw in enumerate(_section(data, "monitors"))
            )
        return True

    def _foreign(self) -> Any:
        if self.foreign is None:
            from slo_service.specs.openslo import ForeignSet  # it builds on this module's helpers

            self.foreign = ForeignSet(self.problems)
        return self.foreign

    def _item(self, file: SpecFile, path: YPath, raw: Any, cls: type[BaseModel]) -> _Item:
        if not isinstance(raw, dict):
            file.add(path, f"expected a mapping, got {describe(raw)}")
            return _Item(file, path, {}, None)
        return _Item(file, path, raw, validate_spec(file, cls, raw, path))

    def _source_item(self, file: SpecFile, path: YPath, raw: Any) -> _Item:
        if not isinstance(raw, dict):
            file.add(path, f"expected a mapping, got {describe(raw)}")
            return _Item(file, path, {}, None)
        kind = raw.get("type")
        known = ", ".join(SOURCE_TYPES)
        if kind is None:
            file.add((*path, "type"), f"required field is missing; source types: {known}")
            return _Item(file, path, raw, None)
        if not isinstance(kind, str) or kind not in SOURCE_SPECS:
            file.add((*path, "type"), f"unknown source type {kind!r}; source types: {known}")
            return _Item(file, path, raw, None)
        return _Item(file, path, raw, validate_spec(file, SOURCE_SPECS[kind], raw, path))

    # ---- pass 2: all files together

    def _build(self) -> Config:
        # Imported here: specs/alerting.py builds on this module's helpers.
        from slo_service.specs.alerting import AlertingSection, SLOAlerting, build_alerting
        from slo_service.specs.monitors import MonitorSet

        foreign = self._foreign()
        services = self._build_services()
        sources = self._build_sources()
        monitor_set = MonitorSet(self.monitors, complete=not (self.files_incomplete or self.monitors_incomplete))
        monitors = monitor_set.build()
        extra_services = self._merge(services, foreign.services(), self.services, "service name")
        extra_sources = self._merge(sources, foreign.sources(), self.sources, "source name")
        slos = self._build_slos(extra_services, {name: "promql" for name in extra_sources}, monitor_set)
        slo_alerting = [
            SLOAlerting(item.file, item.path, item.spec.service, item.spec.name, item.spec.alerting)
            for item in self.slos
            if isinstance(item.spec, SLOSpec) and item.spec.alerting is not None
        ]
        known_services = None if self.services_incomplete else {_raw_name(i.raw) for i in self.services} | set(services)
        source_kinds: dict[str, str | None] | None = None
        if not self.sources_incomplete:
            source_kinds = {n: i.raw.get("type") for i in self.sources if (n := _raw_name(i.raw)) is not None}
            source_kinds.update({name: "promql" for name in extra_sources})
        first_slo = {
            f"{k[0]}/{k[1]}": item.file.where((*item.path, "name"))
            for item in reversed(self.slos)
            if (k := _raw_slo_key(item.raw)) is not None
        }
        for located in foreign.slos(None if known_services is None else {n for n in known_services if n}, source_kinds):
            slo, overrides = located.value
            if slo.key in first_slo:
                located.file.add(located.path, f"duplicate SLO {slo.key}; first defined at {first_slo[slo.key]}")
                continue
            first_slo[slo.key] = located.where()
            slos.append(slo)
            if overrides is not None:
                slo_alerting.append(SLOAlerting(located.file, located.path, slo.service, slo.name, overrides))
        alerting = build_alerting(
            AlertingSection(*self.alerting) if self.alerting is not None else None,
            slo_alerting,
            config_incomplete=self.files_incomplete,
        )
        alerting = foreign.alerting(alerting, incomplete=self.files_incomplete)  # OpenSLO notification targets
        return Config(
            services=services,
            sources=sources,
            slos=tuple(slos),
            files=tuple(self.files),
            alerting=alerting,
            monitors=monitors,
            warnings=tuple(_tier_warnings(slos, alerting, first_slo)),
        )

    @staticmethod
    def _merge(into: dict[str, Any], extra: list[Any], items: list[_Item], what: str) -> list[str]:
        """Add the OpenSLO / Sloth objects to `into`, reporting names defined twice; the names added."""
        added: list[str] = []
        firsts: dict[str, str] = {}
        for item in items:
            name = _raw_name(item.raw)
            if name is not None:
                firsts.setdefault(name, item.file.where((*item.path, "name")))
        for located in extra:
            name = located.value.name
            if name in into or name in firsts:
                if not located.implicit:
                    where = firsts.get(name) or "another file"
                    located.file.add(located.path, f"duplicate {what} {name!r}; first defined at {where}")
                continue
            into[name] = located.value
            firsts[name] = located.where()
            added.append(name)
        return added

    @staticmethod
    def _first_of_key(items: list[_Item], key_of: Any, describe: Any) -> set[int]:
        """Indexes of items whose key repeats an earlier one, after reporting where the first one was."""
        first: dict[Any, _Item] = {}
        repeated: set[int] = set()
        for index, item in enumerate(items):
            key = key_of(item.raw)
            if key is None:
                continue
            if key in first:
                prev = first[key]
                item.file.add(
                    (*item.path, "name"),
                    f"duplicate {describe(key)}; first defined at {prev.file.where((*prev.path, 'name'))}",
                )
                repeated.add(index)
            else:
                first[key] = item
        return repeated

    def _build_services(self) -> dict[str, Service]:
        repeated = self._first_of_key(self.services, _raw_name, lambda n: f"service name {n!r}")
        out: dict[str, Service] = {}
        for index, item in enumerate(self.services):
            spec = item.spec
            if not isinstance(spec, ServiceSpec):
                continue
            name_ok = check_name(item.file, (*item.path, "name"), spec.name)
            labels_ok = check_labels(item.file, (*item.path, "labels"), spec.labels)
            if name_ok and labels_ok and index not in repeated:
                out[spec.name] = Service(name=spec.name, labels=dict(spec.labels), description=spec.description)
        return out

    def _build_sources(self) -> dict[str, Source]:
        repeated = self._first_of_key(self.sources, _raw_name, lambda n: f"source name {n!r}")
        out: dict[str, Source] = {}
        for index, item in enumerate(self.sources):
            if item.spec is None:
                continue
            source = _build_source(item.file, item.path, item.spec)
            if source is not None and index not in repeated:
                out[source.name] = source
        return out

    def _build_slos(
        self, extra_services: list[str], extra_sources: dict[str, str | None], monitors: MonitorSet | None = None
    ) -> list[SLO]:
        # Names of items that failed their own checks still count as known, so that one mistake in a
        # service or source does not also produce an "unknown service/source" for every SLO using it.
        source_kinds: dict[str, str | None] = {}
        for item in self.sources:
            name, kind = _raw_name(item.raw), item.raw.get("type")
            if name is not None:
                source_kinds.setdefault(name, kind if isinstance(kind, str) and kind in SOURCE_TYPES else None)
        for name, kind in extra_sources.items():
            source_kinds.setdefault(name, kind)
        known_services = sorted({n for i in self.services if (n := _raw_name(i.raw)) is not None} | set(extra_services))
        repeated = self._first_of_key(self.slos, _raw_slo_key, lambda k: f"SLO {k[0]}/{k[1]}")
        out: list[SLO] = []
        for index, item in enumerate(self.slos):
            spec = item.spec
            if not isinstance(spec, SLOSpec):
                continue
            slo = _build_slo(
                item.file,
                item.path,
                spec,
                None if self.services_incomplete else known_services,
                None if self.sources_incomplete else source_kinds,
                monitors,
            )
            if slo is not None and index not in repeated:
                out.append(slo)
        return out


def _section(data: dict[str, Any], name: str) -> list[Any]:
    items = data.get(name)
    return items if isinstance(items, list) else []


def _raw_name(raw: dict[str, Any]) -> str | None:
    name = raw.get("name")
    return name if isinstance(name, str) else None


def _raw_slo_key(raw: dict[str, Any]) -> tuple[str, str] | None:
    service, name = raw.get("service"), raw.get("name")
    return (service, name) if isinstance(service, str) and isinstance(name, str) else None


# --------------------------------------------------------------------------------------------------------
# Semantic checks, one item at a time. Each returns None (after reporting) when the item is invalid.


def _build_source(file: SpecFile, path: YPath, spec: Any) -> Source | None:
    name_ok = check_name(file, (*path, "name"), spec.name)
    if isinstance(spec, PushSourceSpec):
        return PushSource(name=spec.name) if name_ok else None
    assert isinstance(spec, (ScrapeSourceSpec, PromQLSourceSpec))
    url_ok = check_url(file, (*path, "url"), spec.url)
    interval = duration_at(file, (*path, "interval"), spec.interval)
    timeout = duration_at(file, (*path, "timeout"), spec.timeout)
    if interval is None or timeout is None:
        return None
    if timeout >= interval:
        given = "timeout" in spec.model_fields_set
        file.add(
            (*path, "timeout") if given else (*path, "interval"),
            f"timeout {format_duration(timeout)}{'' if given else ' (the default)'} must be shorter than "
            f"interval {format_duration(interval)}",
        )
        return None
    if not (name_ok and url_ok):
        return None
    if isinstance(spec, ScrapeSourceSpec):
        return ScrapeSource(name=spec.name, url=spec.url, interval=interval, timeout=timeout)
    return PromQLSource(
        name=spec.name,
        url=spec.url,
        interval=interval,
        timeout=timeout,
        backfill=spec.backfill,
        headers=dict(spec.headers),
    )


def _build_slo(
    file: SpecFile,
    path: YPath,
    spec: SLOSpec,
    known_services: list[str] | None,
    source_kinds: dict[str, str | None] | None,
    monitors: MonitorSet | None = None,
) -> SLO | None:
    ok = check_name(file, (*path, "name"), spec.name)
    if known_services is not None and spec.service not in known_services:
        known = ", ".join(known_services) if known_services else "none are defined"
        file.add((*path, "service"), f"unknown service {spec.service!r}; known services: {known}")
        ok = False
    objective = objective_from_percent(file, (*path, "objective"), spec.objective)
    period = _period(file, (*path, "period"), spec.period)
    budgeting = _budgeting(file, (*path, "budgeting"), spec.budgeting)
    sli = _sli(file, (*path, "sli"), spec, source_kinds, monitors)
    labels_ok = check_labels(file, (*path, "labels"), spec.labels)
    method = spec.budgeting.method if spec.budgeting is not None else "occurrences"
    if spec.sli.threshold is not None and method != "timeslices":
        file.add(
            (*path, "sli", "threshold"),
            "threshold SLIs need budgeting method timeslices, "
            "e.g. budgeting: {method: timeslices, slice: 1m}: "
            "a gauge has no events to count, so each slice is judged good or bad",
        )
        ok = False
    if not ok or not labels_ok or objective is None or period is None or budgeting is None or sli is None:
        return None
    return SLO(
        service=spec.service,
        name=spec.name,
        objective=objective,
        period=period,
        sli=sli,
        budgeting=budgeting,
        labels=dict(spec.labels),
        description=spec.description,
    )


def _period(file: SpecFile, path: YPath, raw: Any) -> Period | None:
    if isinstance(raw, str):
        length = duration_at(file, path, raw)
        return rolling_period(file, path, length)
    if isinstance(raw, dict):
        spec = validate_spec(file, PeriodSpec, raw, path)
        if spec is None:
            return None
        if (spec.rolling is None) == (spec.calendar is None):
            which = "both" if spec.rolling is not None else "neither"
            file.add(
                path,
                f"set exactly one of rolling (e.g. rolling: 28d) or calendar (week or month); got {which}",
            )
            return None
        if spec.rolling is not None:
            if spec.timezone is not None:
                file.add((*path, "timezone"), "timezone only applies to calendar periods")
                return None
            return rolling_period(file, (*path, "rolling"), duration_at(file, (*path, "rolling"), spec.rolling))
        assert spec.calendar is not None
        timezone = spec.timezone if spec.timezone is not None else "UTC"
        if not valid_timezone(timezone):
            file.add(
                (*path, "timezone"),
                f"unknown timezone {timezone!r}; use an IANA time zone name such as UTC or Europe/Berlin",
            )
            return None
        return Period.calendar(CalendarUnit(spec.calendar), timezone)
    file.add(
        path,
        "period must be a duration such as 28d, {rolling: 28d}, or {calendar: month, timezone: UTC}; "
        f"got {describe(raw)}",
    )
    return None


def _budgeting(file: SpecFile, path: YPath, spec: BudgetingSpec | None) -> Budgeting | None:
    if spec is None:
        return Budgeting()
    if spec.method == "occurrences":
        extra = [f for f in ("slice", "slice_threshold") if getattr(spec, f) is not None]
        if extra:
            file.add(
                (*path, extra[0]),
                f"{extra[0]} only applies to method timeslices; occurrences budgeting counts events",
            )
            return None
        return Budgeting()
    ok = True
    slice_length: timedelta | None = None
    if spec.slice is None:
        file.add(path, "method timeslices needs slice, the length of one timeslice, e.g. slice: 5m")
        ok = False
    else:
        slice_length = duration_at(file, (*path, "slice"), spec.slice)
        if slice_length is not None:
            whole_minutes = slice_length.total_seconds() % 60 == 0
            if not whole_minutes or not (MIN_SLICE <= slice_length <= MAX_SLICE):
                file.add(
                    (*path, "slice"),
                    f"slice {spec.slice} must be a whole number of minutes between 1m and 1h",
                )
                ok = False
        else:
            ok = False
    threshold = 1.0 if spec.slice_threshold is None else spec.slice_threshold
    if not (0 < threshold <= 1):
        file.add(
            (*path, "slice_threshold"),
            f"slice_threshold {number_text(threshold)} must be greater than 0 and at most 1 "
            "(the share of good events that makes a slice good)",
        )
        ok = False
    if not ok:
        return None
    return Budgeting(BudgetingMethod.TIMESLICES, slice=slice_length, slice_threshold=threshold)


def _sli(
    file: SpecFile,
    path: YPath,
    spec: SLOSpec,
    source_kinds: dict[str, str | None] | None,
    monitors: MonitorSet | None = None,
) -> SLI | None:
    sli = spec.sli
    given = [k for k in ("ratio", "latency", "threshold", "drift") if getattr(sli, k) is not None]
    if len(given) != 1:
        got = "none" if not given else " and ".join(given)
        if "drift" in given:
            file.add(path, f"set exactly one SLI kind: ratio, latency, threshold or drift; got {got}")
        else:
            file.add(
                path, f"set exactly one SLI kind: ratio, latency or threshold; got {got} (or drift, for a monitor)"
            )
        return None
    kind = given[0]
    sub = getattr(sli, kind)
    sub_path = (*path, kind)
    if kind == "drift":
        if monitors is None:
            from slo_service.specs.monitors import MonitorSet

            monitors = MonitorSet([], complete=False)
        return monitors.sli(file, sub_path, sub)
    source_kind = _source_kind(file, (*sub_path, "source"), sub.source, source_kinds)
    if isinstance(sub, RatioSpec):
        return _ratio(file, sub_path, sub, source_kind)
    if isinstance(sub, LatencySpec):
        return _latency(file, sub_path, sub, source_kind)
    assert isinstance(sub, ThresholdSpec)
    return _threshold(file, sub_path, sub, source_kind)


_UNKNOWN = "(unknown)"


def _source_kind(file: SpecFile, path: YPath, name: str, source_kinds: dict[str, str | None] | None) -> str | None:
    """The type of the named source; _UNKNOWN after reporting a missing source; None if unknowable."""
    if source_kinds is None:
        return None
    if name not in source_kinds:
        known = ", ".join(sorted(source_kinds)) if source_kinds else "none are defined"
        file.add(path, f"unknown source {name!r}; known sources: {known}")
        return _UNKNOWN
    return source_kinds[name]


def _query(file: SpecFile, path: YPath, text: str, source_kind: str | None) -> bool:
    """A selector for scrape and push sources; any non-empty text (PromQL) for promql sources."""
    if not text.strip():
        file.add(path, "must not be empty")
        return False
    if source_kind in ("scrape", "push"):
        try:
            parse_selector(text)
        except ValueError as exc:
            file.add(path, f"{exc} ({source_kind} sources take a series selector, not PromQL)")
            return False
    return True


def _ratio(file: SpecFile, path: YPath, spec: RatioSpec, source_kind: str | None) -> RatioSLI | None:
    ok = source_kind != _UNKNOWN
    if (spec.good is None) == (spec.bad is None):
        which = "both" if spec.good is not None else "neither"
        file.add(path, f"set exactly one of good or bad (the other is total minus it); got {which}")
        ok = False
    for name in ("good", "bad", "total"):
        text = getattr(spec, name)
        if text is not None:
            ok = _query(file, (*path, name), text, source_kind) and ok
    if not ok:
        return None
    return RatioSLI(source=spec.source, total=spec.total, good=spec.good, bad=spec.bad)


def _latency(file: SpecFile, path: YPath, spec: LatencySpec, source_kind: str | None) -> LatencySLI | None:
    ok = source_kind != _UNKNOWN
    if not METRIC_NAME.match(spec.histogram):
        file.add((*path, "histogram"), f"{spec.histogram!r} is not a metric name")
        ok = False
    elif spec.histogram.endswith("_bucket"):
        file.add(
            (*path, "histogram"),
            f"give the histogram's base name without _bucket: {spec.histogram.removesuffix('_bucket')!r}",
        )
        ok = False
    if spec.matchers.strip():
        try:
            selector = parse_selector(spec.matchers)
        except ValueError as exc:
            file.add((*path, "matchers"), str(exc))
            ok = False
        else:
            if selector.metric is not None:
                file.add(
                    (*path, "matchers"),
                    f"matchers must be label matchers only, like '{{route=\"/predict\"}}'; "
                    f"got a metric name {selector.metric!r}",
                )
                ok = False
    threshold_ok = spec.threshold > 0 and math.isfinite(spec.threshold)
    if not threshold_ok:
        file.add((*path, "threshold"), f"threshold {number_text(spec.threshold)} must be a positive number of seconds")
        ok = False
    buckets: tuple[float, ...] | None = None
    if spec.buckets is not None:
        buckets = tuple(spec.buckets)
        if not buckets:
            file.add((*path, "buckets"), "buckets must not be empty; leave the field out instead")
            ok = False
        elif any(not math.isfinite(b) or b <= 0 for b in buckets) or any(
            a >= b for a, b in itertools.pairwise(buckets)
        ):
            file.add((*path, "buckets"), "buckets must be positive and strictly increasing")
            ok = False
        elif threshold_ok and not any(math.isclose(spec.threshold, b, rel_tol=1e-9) for b in buckets):
            file.add(
                (*path, "threshold"),
                f"threshold {number_text(spec.threshold)} is not a bucket boundary of {spec.histogram}; "
                f"boundaries: {', '.join(number_text(b) for b in buckets)}",
            )
            ok = False
    if not ok:
        return None
    return LatencySLI(
        source=spec.source,
        histogram=spec.histogram,
        threshold=spec.threshold,
        matchers=spec.matchers.strip(),
        buckets=buckets,
    )


def _threshold(file: SpecFile, path: YPath, spec: ThresholdSpec, source_kind: str | None) -> ThresholdSLI | None:
    ok = source_kind != _UNKNOWN
    ok = _query(file, (*path, "metric"), spec.metric, source_kind) and ok
    if not math.isfinite(spec.value):
        file.add((*path, "value"), f"value {spec.value} must be a finite number")
        ok = False
    if not ok:
        return None
    return ThresholdSLI(
        source=spec.source,
        metric=spec.metric,
        op=Comparison(spec.op),
        value=spec.value,
        aggregate=Aggregation(spec.aggregate),
    )


def _tier_warnings(slos: list[SLO], alerting: AlertingConfig, where: dict[str, str]) -> list[str]:
    """A warning per burn-rate tier that can never fire for its SLO (e.g. 14.4x on a 90% objective)."""
    out = []
    for slo in slos:
        for e in explain_tiers(slo, alerting.policy_for(slo.key)):
            if e.problem is not None:
                out.append(f"{where.get(slo.key, slo.key)}: alerting: {e.problem}")
    return out
