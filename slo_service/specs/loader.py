"""Load configuration files into the core `Config`: find the files, run every reader, report every problem.

Reading happens in two passes. Each file is parsed on its own (YAML syntax, apiVersion, structure and
types through the pydantic specs, item by item). Then all items of all files are checked together:
names, durations, ranges, selectors, duplicate names and references between sections, because
services, sources and SLOs may be split across files. The checks of one slo-service item live in
specs/native.py and specs/native_sli.py; OpenSLO and Sloth files are read by specs/openslo.py and
specs/sloth.py, the `alerting:` section by specs/alerting.py and `monitors:` by specs/monitors.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slo_service.core.model import SLO, Config, Service, Source
from slo_service.specs.alerting import AlertingSection, SLOAlerting, build_alerting
from slo_service.specs.checks import check_labels, check_name
from slo_service.specs.monitors import MonitorItem, MonitorSet
from slo_service.specs.native import (
    Item,
    build_slo,
    build_source,
    raw_name,
    raw_slo_key,
    read_item,
    read_source_item,
    tier_warnings,
)
from slo_service.specs.openslo import ForeignSet
from slo_service.specs.problems import ConfigError, Problem, SpecFile, describe, field_name, validate_spec
from slo_service.specs.responses import build_responses
from slo_service.specs.schema import SOURCE_TYPES, SUPPORTED_API_VERSIONS, DocumentSpec, ServiceSpec, SLOSpec
from slo_service.specs.yaml_lines import FileTooLargeError, YAMLSyntaxError, load_yaml, read_config_text

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
# The loader


@dataclass
class _Loader:
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    services: list[Item] = field(default_factory=list)
    sources: list[Item] = field(default_factory=list)
    slos: list[Item] = field(default_factory=list)
    # Set when some file could not be read completely: its services or sources are unknown, so an SLO
    # naming one of them must not be reported as referring to an unknown service or source.
    services_incomplete: bool = False
    sources_incomplete: bool = False
    # The one `alerting:` section (file, raw mapping), see specs/alerting.py; a second one is a problem.
    alerting: tuple[SpecFile, Any] | None = None
    files_incomplete: bool = False
    # OpenSLO and Sloth files (specs/openslo.py, specs/sloth.py): read like the others, merged when building.
    foreign: ForeignSet | None = None
    # Entries of `monitors:` lists (drift monitors), checked in pass 2 by specs/monitors.py.
    monitors: list[MonitorItem] = field(default_factory=list)
    monitors_incomplete: bool = False
    # The one `responses:` section (file, raw mapping), see specs/responses.py.
    responses: tuple[SpecFile, Any] | None = None

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
            text = read_config_text(path)
        except FileTooLargeError as exc:
            self.problems.append(Problem(name, None, "(file)", str(exc)))
            return False
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
            self.problems.append(Problem(name, exc.line, "(yaml)", exc.summary))
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
        if "responses" in data:
            if self.responses is None:
                self.responses = (file, data["responses"])
            else:
                first_at = self.responses[0].where(("responses",))
                file.add(("responses",), f"responses is defined in more than one file: here and at {first_at}")
        if not isinstance(data.get("services", []), list | None):
            self.services_incomplete = True
        if not isinstance(data.get("sources", []), list | None):
            self.sources_incomplete = True
        for i, raw in enumerate(_section(data, "services")):
            self.services.append(read_item(file, ("services", i), raw, ServiceSpec))
        for i, raw in enumerate(_section(data, "sources")):
            self.sources.append(read_source_item(file, ("sources", i), raw))
        for i, raw in enumerate(_section(data, "slos")):
            self.slos.append(read_item(file, ("slos", i), raw, SLOSpec))
        if not isinstance(data.get("monitors", []), list | None):
            self.monitors_incomplete = True
        if data.get("monitors"):
            self.monitors.extend(
                MonitorItem(file, ("monitors", i), raw) for i, raw in enumerate(_section(data, "monitors"))
            )
        return True

    def _foreign(self) -> ForeignSet:
        if self.foreign is None:
            self.foreign = ForeignSet(self.problems)
        return self.foreign

    # ---- pass 2: all files together

    def _build(self) -> Config:
        foreign = self._foreign()
        services = self._build_services()
        sources = self._build_sources()
        monitor_set = MonitorSet(self.monitors, complete=not (self.files_incomplete or self.monitors_incomplete))
        monitors = monitor_set.build()
        extra_services = self._merge(services, foreign.services(), self.services, "service name")
        extra_sources = self._merge(sources, foreign.sources(), self.sources, "source name")
        extra_kinds: dict[str, str | None] = {name: sources[name].kind.value for name in extra_sources}
        slos = self._build_slos(extra_services, extra_kinds, monitor_set)
        slo_alerting = [
            SLOAlerting(item.file, item.path, item.spec.service, item.spec.name, item.spec.alerting)
            for item in self.slos
            if isinstance(item.spec, SLOSpec) and item.spec.alerting is not None
        ]
        known_services = None if self.services_incomplete else {raw_name(i.raw) for i in self.services} | set(services)
        source_kinds: dict[str, str | None] | None = None
        if not self.sources_incomplete:
            source_kinds = {n: i.raw.get("type") for i in self.sources if (n := raw_name(i.raw)) is not None}
            source_kinds.update(extra_kinds)
        first_slo = {
            f"{k[0]}/{k[1]}": item.file.where((*item.path, "name"))
            for item in reversed(self.slos)
            if (k := raw_slo_key(item.raw)) is not None
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
        monitors_unknown = self.files_incomplete or self.monitors_incomplete
        # names given, valid or not: an invalid monitor is reported once, where it is defined
        monitor_names = {
            n for m in self.monitors if isinstance(m.raw, dict) and isinstance(n := m.raw.get("name"), str)
        }
        return Config(
            services=services,
            sources=sources,
            slos=tuple(slos),
            files=tuple(self.files),
            alerting=alerting,
            monitors=monitors,
            warnings=tuple(tier_warnings(slos, alerting, first_slo)),
            responses=build_responses(*self.responses, None if monitors_unknown else monitor_names)
            if self.responses is not None
            else None,
        )

    @staticmethod
    def _merge(into: dict[str, Any], extra: list[Any], items: list[Item], what: str) -> list[str]:
        """Add the OpenSLO / Sloth objects to `into`, reporting names defined twice; the names added."""
        added: list[str] = []
        firsts: dict[str, str] = {}
        for item in items:
            name = raw_name(item.raw)
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
    def _first_of_key(items: list[Item], key_of: Any, describe: Any) -> set[int]:
        """Indexes of items whose key repeats an earlier one, after reporting where the first one was."""
        first: dict[Any, Item] = {}
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
        repeated = self._first_of_key(self.services, raw_name, lambda n: f"service name {n!r}")
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
        repeated = self._first_of_key(self.sources, raw_name, lambda n: f"source name {n!r}")
        out: dict[str, Source] = {}
        for index, item in enumerate(self.sources):
            if item.spec is None:
                continue
            source = build_source(item.file, item.path, item.spec)
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
            name, kind = raw_name(item.raw), item.raw.get("type")
            if name is not None:
                source_kinds.setdefault(name, kind if isinstance(kind, str) and kind in SOURCE_TYPES else None)
        for name, kind in extra_sources.items():
            source_kinds.setdefault(name, kind)
        known_services = sorted({n for i in self.services if (n := raw_name(i.raw)) is not None} | set(extra_services))
        repeated = self._first_of_key(self.slos, raw_slo_key, lambda k: f"SLO {k[0]}/{k[1]}")
        out: list[SLO] = []
        for index, item in enumerate(self.slos):
            spec = item.spec
            if not isinstance(spec, SLOSpec):
                continue
            slo = build_slo(
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
