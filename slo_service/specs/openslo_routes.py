"""Receivers and routes of OpenSLO notification targets, added to the `alerting:` section's config.

A target either names a receiver of the `alerting:` section (``target: oncall-pager``), or is ``slack``,
``pagerduty`` or ``webhook`` with its settings in ``slo-service/`` annotations; such receivers are built
and checked by the section's own builder (specs/alerting.py), their problems located at the annotation.
Each SLO with alert policies gets a route, first in the tree, sending its burn-rate alerts (and no-data
alerts when a policy has alertWhenNoData) to its policies' targets and to no other route.
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
from slo_service.specs.problems import Problem, SpecFile
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["ANNOTATION_PREFIX", "PolicyRoute", "SLORouting", "TargetUse", "check_targets", "route_alerts"]

ANNOTATION_PREFIX = "slo-service/"
"""metadata.annotations with this prefix hold a notification target's receiver settings."""


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
    """`config` with the receivers of the OpenSLO notification targets and, first in the routing tree, one
    route per SLO sending its alerts to its policies' targets (and nowhere else)."""
    receivers = dict(config.receivers)
    defined: dict[str, TargetUse] = {}
    slo_routes: list[Route] = []
    for routing in routings:
        children: list[Route] = []
        for policy in routing.policies:
            names = [n for t in policy.targets if (n := _receiver(t, config, receivers, defined, incomplete))]
            for name in dict.fromkeys(names):
                for tier in policy.tiers:
                    matchers = (Matcher("alertname", "=", BURN_RATE_HIGH), Matcher(BURN_TIER_LABEL, "=", tier))
                    children.append(Route(receiver=name, matchers=matchers, continue_=True))
                if policy.no_data:
                    children.append(
                        Route(receiver=name, matchers=(Matcher("alertname", "=", NO_DATA),), continue_=True)
                    )
        if children:
            matchers = (Matcher(SERVICE_LABEL, "=", routing.service), Matcher(SLO_LABEL, "=", routing.slo))
            slo_routes.append(Route(matchers=matchers, routes=tuple(children)))
    if not slo_routes:
        return replace(config, receivers=receivers)
    root = config.route or Route(receiver=NO_RECEIVER)
    return replace(config, receivers=receivers, route=replace(root, routes=(*slo_routes, *root.routes)))


def check_targets(config: AlertingConfig, uses: Iterable[TargetUse], *, incomplete: bool) -> None:
    """Report the receiver problems of AlertNotificationTarget documents, used by an SLO or not."""
    for use in uses:
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
                f"alertWhenResolved {str(use.send_resolved).lower()} disagrees with receiver {spec.name!r}'s "
                f"send_resolved {str(spec.send_resolved).lower()}",
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
