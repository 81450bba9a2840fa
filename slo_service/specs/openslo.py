"""OpenSLO v1 documents (and Sloth files, see sloth.py) read into the core model.

A configuration directory may hold OpenSLO files (``apiVersion: openslo/v1``; one or many documents per
file, separated by ``---``) next to slo-service files: their services, data sources, SLOs, alert policies
and notification targets join the same `Config`, and names must be unique across all files. What the
service cannot honour exactly is REFUSED with a `Problem` naming the field (``file:line: field: message``),
never dropped or reinterpreted silently, and every problem of a document is reported at once.

Modules: this one collects documents and builds services and data sources; openslo_slo.py builds SLOs and
SLIs; openslo_alerts.py alert policies, conditions and notification targets (tiers, receivers, routes).
The full mapping is in docs/configuration.md ("OpenSLO v1 and Sloth files"). In short:

* ``Service``: metadata.name, metadata.labels (single string values), spec.description (else displayName).
* ``DataSource`` with spec.type Prometheus: a promql source, url from spec.connectionDetails.url
  (``slo-service-scrape`` and ``slo-service-push``: scrape and push sources; openslo_sources.py).
* ``slo-service/`` annotations: what OpenSLO has no field for, as `slo-service export` writes it
  (openslo_annotations.py), including the slo-service name of an object whose name is no DNS label.
* ``SLI`` / inline indicator: ratioMetric good or bad, and total (counter queries), or thresholdMetric;
  metricSource type Prometheus, or no type and a metricSourceRef (the type is the DataSource's).
* ``SLO``: one objective; rolling or calendar (1w, 1M, calendar.timeZone) timeWindow; Occurrences or
  Timeslices budgeting.
* ``AlertPolicy`` (alertPolicyRef or inline) with AlertCondition (conditionRef or inline, ``burnrate``)
  and AlertNotificationTarget (targetRef or inline): tiers of the SLO's policy, receivers and a route.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slo_service.core.alerting.config import AlertingConfig
from slo_service.core.model import Service
from slo_service.specs.openslo_alerts import check_alert_doc
from slo_service.specs.openslo_annotations import display_text, real_name
from slo_service.specs.openslo_common import (
    DEFAULT_SOURCE,
    Context,
    Doc,
    check_known,
    labels_at,
    metadata_name,
)
from slo_service.specs.openslo_routes import SLORouting, TargetUse, check_targets, route_alerts
from slo_service.specs.openslo_slo import OPS, build_slo
from slo_service.specs.openslo_sources import read_data_source
from slo_service.specs.problems import Problem, SpecFile, describe
from slo_service.specs.yaml_lines import YAMLLimitError, YAMLSyntaxError, load_yaml_documents

__all__ = [
    "CALENDAR_START",
    "DEFAULT_SOURCE",
    "KINDS",
    "OPENSLO_API_VERSION",
    "OPS",
    "ForeignSet",
    "Located",
]

OPENSLO_API_VERSION = "openslo/v1"
CALENDAR_START = "2024-01-01 00:00:00"  # a Monday and the first of a month: any calendar period starts there
KINDS = ("Service", "DataSource", "SLI", "SLO", "AlertPolicy", "AlertCondition", "AlertNotificationTarget")
_ALERT_KINDS = ("AlertPolicy", "AlertCondition", "AlertNotificationTarget")


@dataclass
class Located:
    """A core object and where it was defined (for duplicate reports)."""

    file: SpecFile
    path: tuple[str | int, ...]
    value: Any
    implicit: bool = False  # a Sloth file's service: not a duplicate of a service defined elsewhere

    def where(self) -> str:
        return self.file.where(self.path)


@dataclass
class ForeignSet:
    """The OpenSLO and Sloth documents of a configuration, collected file by file, then built together."""

    problems: list[Problem]
    docs: list[Doc] = field(default_factory=list)
    routings: list[SLORouting] = field(default_factory=list)
    targets: list[TargetUse] = field(default_factory=list)  # AlertNotificationTarget documents

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
            # A limit refuses the file whatever its format: reading it again as a slo-service file would
            # only spend the same time before the same refusal.
            if not looks_foreign and not isinstance(exc, YAMLLimitError):
                return None
            self.problems.append(Problem(name, exc.line, "(yaml)", exc.summary))
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
                    self.docs.append(Doc(file, "Sloth", name, doc.data))
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
            if doc is not None:
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
        ok = check_known(file, (), data, {"apiVersion", "kind", "metadata", "spec"})
        kind = data.get("kind")
        if kind not in KINDS:
            file.add(("kind",), f"unsupported OpenSLO kind {describe(kind)}; supported kinds: {', '.join(KINDS)}")
            return
        ref = metadata_name(file, (), data, str(kind))
        name = None if ref is None else real_name(file, (), data.get("metadata"), ref)
        if not isinstance(data.get("spec"), dict):
            file.add(("spec",), f"spec must be a mapping, got {describe(data.get('spec'))}")
            return
        if name is not None and ref is not None and ok:
            self.docs.append(Doc(file, str(kind), name, data, ref))

    # ---- building, in three steps: declarations (services, sources), SLOs, then alert routing

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
            source = read_data_source(doc)
            if source is not None:
                out.append(Located(doc.file, ("metadata", "name"), source))
        return out

    def slos(self, services: Iterable[str] | None, source_kinds: Mapping[str, str | None] | None) -> list[Located]:
        """Every SLO; `value` is (SLO, alerting overrides, a whole AlertPolicy (Sloth) or None). None arguments:
        references not checked."""
        from slo_service.specs import sloth

        kinds = ("Service", "SLI", "DataSource", *_ALERT_KINDS)
        ctx = Context(
            None if services is None else set(services),
            None if source_kinds is None else dict(source_kinds),
            {kind: self._by_name(kind) for kind in kinds},
        )
        before = len(self.problems)
        for kind in _ALERT_KINDS:  # checked once on their own, referenced or not
            for doc in self._of(kind):
                target = check_alert_doc(doc, ctx)
                if target is not None:
                    self.targets.append(target)
        out: list[Located] = []
        for doc in self._of("SLO"):
            built = build_slo(doc, ctx)
            if built is not None:
                slo, overrides, routing = built
                out.append(Located(doc.file, ("metadata", "name"), (slo, overrides)))
                if routing is not None:
                    self.routings.append(routing)
        for doc in self._of("Sloth"):
            for path, slo, alerting in sloth.sloth_slos(doc.file, doc.data, ctx.source_kinds):
                out.append(Located(doc.file, path, (slo, alerting)))
        for kind in ("SLI", *_ALERT_KINDS):  # defined twice: refused
            seen: dict[str, Doc] = {}
            for doc in self._of(kind):
                if doc.ref in seen:
                    first = seen[doc.ref].file.where(("metadata", "name"))
                    doc.file.add(("metadata", "name"), f"duplicate {kind} name {doc.ref!r}; first defined at {first}")
                seen.setdefault(doc.ref, doc)
        # A document referenced by several SLOs is checked once per SLO: report each problem once.
        self.problems[before:] = list(dict.fromkeys(self.problems[before:]))
        return out

    def alerting(self, config: AlertingConfig, *, incomplete: bool) -> AlertingConfig:
        """`config` (the `alerting:` section's) with the receivers and routes of the SLOs' alert policies;
        call after `slos`. `incomplete`: a file was unreadable, so unknown receivers are not reported."""
        before = len(self.problems)
        out = route_alerts(config, self.routings, incomplete=incomplete)
        check_targets(config, self.targets, incomplete=incomplete)
        self.problems[before:] = list(dict.fromkeys(self.problems[before:]))
        return out

    def _of(self, kind: str) -> list[Doc]:
        return [d for d in self.docs if d.kind == kind]

    def _by_name(self, kind: str) -> dict[str, Doc]:
        out: dict[str, Doc] = {}
        for doc in self._of(kind):
            out.setdefault(doc.ref, doc)
        return out


def _service(doc: Doc) -> Service | None:
    spec, meta = doc.data["spec"], doc.data.get("metadata") or {}
    ok = check_known(doc.file, ("spec",), spec, {"description"})
    labels = labels_at(doc.file, ("metadata", "labels"), meta.get("labels"))
    if labels is None or not ok:
        return None
    description = spec.get("description") or display_text(meta) or ""
    return Service(name=doc.name, labels=labels, description=str(description))
