"""Receivers and routes of OpenSLO notification targets, added to the `alerting:` section's config.

A target either names a receiver of the `alerting:` section (``target: oncall-pager``), or is ``slack``,
``pagerduty`` or ``webhook`` with its settings in ``slo-service/`` annotations; such receivers are built
and checked by the section's own builder (specs/alerting.py), their problems located at the annotation.
Each SLO with alert policies gets routes, first in the tree, sending its burn-rate alerts (and no-data
alerts when a policy has alertWhenNoData) to its policies' targets and to no later route; the target
``slo-service`` leaves them to the section's own route (what `slo-service export` writes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from slo_service.core.alerting.conditions import BURN_RATE_HIGH, BURN_TIER_LABEL, NO_DATA
from slo_service.core.alerting.config import NO_RECEIVER, AlertingConfig, ReceiverSpec
from slo_service.core.conventions import SERVICE_LABEL, SLO_LABEL
from slo_service.core.routing.tree import Route
from slo_service.core.selector import Matcher
from slo_service.specs.alerting import AlertingSection, build_alerting
from slo_service.specs.openslo_common import SERVICE_PREFIX
from slo_service.specs.problems import Problem, SpecFile
from slo_service.specs.yaml_lines import Path as YPath

__all__ = [
    "ANNOTATION_PREFIX",
    "SECTION_TARGET",
    "PolicyRoute",
    "SLORouting",
    "TargetUse",
    "check_targets",
    "is_section_target",
    "route_alerts",
]

ANNOTATION_PREFIX = SERVICE_PREFIX
"""metadata.annotations with this prefix hold a notification target's receiver settings."""
SECTION_TARGET = "slo-service"
"""A target (without annotations) leaving the alerts to the alerting section's own route and receivers."""


@dataclass
class TargetUse:
    """One notification target of one policy, where it is defined, and the policy's alertWhenResolved."""

    file: SpecFile
    path: YPath  # of the target object: () for an AlertNotificationTarget document
    name: str
    target: str
    settings: dict[str, Any]  # slo-service/ annotations without the prefix
    send_resolved: bool
    resolved_file: SpecFile
    resolved_path: YPath


@dataclass
class PolicyRoute:
    tiers: tuple[str, ...]
    no_data: bool
    targets: list[TargetUse]


@dataclass
class SLORouting:
    """Where one SLO's alerts go (service and slo are set by the SLO reader)."""

    service: str = ""
    slo: str = ""
    policies: list[PolicyRoute] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------------
# Receivers and routes


def route_alerts(config: AlertingConfig, routings: Iterable[SLORouting], *, incomplete: bool) -> AlertingConfig:
    """`config` with the receivers of the OpenSLO notification targets and, first in the routing tree,
    routes sending each SLO's burn-rate alerts (per tier) and no-data alerts to its policies' targets and
    to no later route, unless a policy also has the SECTION_TARGET."""
    receivers = dict(config.receivers)
    defined: dict[str, TargetUse] = {}
    routes: list[Route] = []
    for routing in routings:
        slo_matchers = (Matcher(SERVICE_LABEL, "=", routing.service), Matcher(SLO_LABEL, "=", routing.slo))
        wanted: dict[tuple[Matcher, ...], list[str]] = {}  # alert selection -> receivers, in order
        to_section: set[tuple[Matcher, ...]] = set()
        for policy in routing.policies:
            names = [n for t in policy.targets if (n := _receiver(t, config, receivers, defined, incomplete))]
            section = any(is_section_target(t) for t in policy.targets)
            selections: list[tuple[Matcher, ...]] = [
                (Matcher("alertname", "=", BURN_RATE_HIGH), Matcher(BURN_TIER_LABEL, "=", t)) for t in policy.tiers
            ]
            if policy.no_data:
                selections.append((Matcher("alertname", "=", NO_DATA),))
            for selection in selections:
                wanted.setdefault(selection, []).extend(names)
                if section:
                    to_section.add(selection)
        for selection, found in wanted.items():
            matchers = (*slo_matchers, *selection)
            unique = list(dict.fromkeys(found))
            for j, name in enumerate(unique):
                routes.append(Route(receiver=name, matchers=matchers, continue_=j < len(unique) - 1))
            if selection in to_section and config.route is not None and unique:
                # What the section's tree does with the alert: a copy of it under these matchers (a `continue`
                # would skip the section root's own receiver once one of the routes above matched).
                routes[-1] = replace(routes[-1], continue_=True)
                routes.append(Route(receiver=config.route.receiver, matchers=matchers, routes=config.route.routes))
    if not routes:
        return replace(config, receivers=receivers)
    root = config.route or Route(receiver=NO_RECEIVER)
    return replace(config, receivers=receivers, route=replace(root, routes=(*routes, *root.routes)))


def is_section_target(use: TargetUse) -> bool:
    """The target meaning "as the alerting section routes it" (no receiver, no route of its own)."""
    return use.target == SECTION_TARGET and not use.settings


def check_targets(config: AlertingConfig, uses: Iterable[TargetUse], *, incomplete: bool) -> None:
    """Report the receiver problems of AlertNotificationTarget documents, used by an SLO or not."""
    for use in uses:
        if is_section_target(use):
            continue
        if not use.settings:
            if config.receivers.get(use.target) is None and not incomplete:
                _receiver(use, config, {}, {}, incomplete)
        elif use.name not in config.receivers:
            _build_receiver(use, use.path or ("spec",), use.path[:-1] if use.path else ())


def _receiver(
    use: TargetUse,
    config: AlertingConfig,
    receivers: dict[str, ReceiverSpec],
    defined: dict[str, TargetUse],
    incomplete: bool,
) -> str | None:
    spath: YPath = use.path if use.path else ("spec",)
    root: YPath = use.path[:-1] if use.path else ()
    if is_section_target(use):
        return None
    if not use.settings:  # the target names a receiver of the alerting section
        spec = config.receivers.get(use.target)
        if spec is None:
            if not incomplete:
                known = ", ".join(sorted(config.receivers)) or "none are defined"
                use.file.add(
                    (*spath, "target"),
                    f"target {use.target!r} names no receiver of the alerting section (known receivers: {known}); "
                    f"or give target slack, pagerduty or webhook with {ANNOTATION_PREFIX} annotations",
                )
            return None
        if spec.send_resolved != use.send_resolved:
            use.resolved_file.add(
                use.resolved_path,
                f"alertWhenResolved {str(use.send_resolved).lower()} disagrees with receiver {spec.name!r} "
                f"(send_resolved: {str(spec.send_resolved).lower()} in the alerting section); make them agree",
            )
            return None
        return spec.name
    if use.name in config.receivers:
        use.file.add(
            (*root, "metadata", "name"),
            f"receiver {use.name!r} is already defined in the alerting section; rename the target, or drop its "
            f"{ANNOTATION_PREFIX} annotations and set target: {use.name} to use that receiver",
        )
        return None
    first = defined.get(use.name)
    if first is not None:
        if (first.target, first.settings) != (use.target, use.settings):
            use.file.add(
                (*root, "metadata", "name"),
                f"target {use.name!r} is defined differently at {first.file.where(first.path)}",
            )
            return None
        if first.send_resolved != use.send_resolved:
            use.resolved_file.add(
                use.resolved_path, f"alert policies sending to {use.name!r} disagree on alertWhenResolved"
            )
            return None
        return use.name if use.name in receivers else None
    defined[use.name] = use
    built = _build_receiver(use, spath, root)
    if built is None:
        return None
    receivers[use.name] = built
    return use.name


def _build_receiver(use: TargetUse, spath: YPath, root: YPath) -> ReceiverSpec | None:
    """The receiver, built and checked by the `alerting:` section's builder; its problems located here."""
    raw = {"name": use.name, "type": use.target.lower(), **use.settings, "send_resolved": use.send_resolved}
    found: list[Problem] = []
    built = build_alerting(AlertingSection(SpecFile(use.file.name, use.file.doc, found), {"receivers": [raw]}), [])
    prefix = "alerting.receivers[0]"
    for problem in found:
        key = problem.field.removeprefix(prefix).lstrip(".").split(".")[0].split("[")[0]
        path: YPath = (
            (*root, "metadata", "annotations", ANNOTATION_PREFIX + key) if key in use.settings else (*spath, "target")
        )
        use.file.add(path, problem.message)
    return None if found else built.receivers.get(use.name)
