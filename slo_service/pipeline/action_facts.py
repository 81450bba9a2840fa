"""Gather what the response policies look at from the alert book, the deployment history, the drift runs and
the SLO statuses (pipeline side of core/actions/facts.py): only what some policy can use is read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

from slo_service.core.actions.facts import BudgetFact, BurnEpisode, DriftRunFact, Facts, GateFact, MonitorFact
from slo_service.core.actions.policy import ResponsesConfig
from slo_service.core.alerting.conditions import BURN_TIER_LABEL, effective_tiers
from slo_service.core.alerting.lifecycle import Alert, AlertState
from slo_service.core.deployments import Deployment, DeploymentStore
from slo_service.core.drift.monitor import DriftRun, RunStatus
from slo_service.core.drift.ports import DriftStore, RunQuery
from slo_service.core.durations import format_duration
from slo_service.core.model import Config
from slo_service.core.slo_math import SLOStatus

DEPLOYMENT_HISTORY = 50
"""Deployments per service read for attribution and rollback (newest first, then oldest first in the facts)."""


def burn_episodes(alerts: Iterable[Alert], config: Config) -> list[BurnEpisode]:
    """Every firing burn-rate alert, with its tier's windows."""
    out: list[BurnEpisode] = []
    for alert in alerts:
        labels = alert.labels
        tier_name = labels.get(BURN_TIER_LABEL)
        if alert.state is not AlertState.FIRING or not tier_name:
            continue
        service, name = labels.get("service", ""), labels.get("slo", "")
        slo = config.slo(f"{service}/{name}")
        long_w = short_w = None
        if slo is not None and config.alerting is not None:
            tier = next(
                (t for t in effective_tiers(slo, config.alerting.policy_for(slo.key)) if t.name == tier_name), None
            )
            if tier is not None:
                long_w, short_w = format_duration(tier.long_window), format_duration(tier.short_window)
        v = alert.values
        out.append(
            BurnEpisode(
                service,
                name,
                labels.get("severity", ""),
                tier_name,
                alert.fingerprint,
                alert.active_since,
                v.get("burn_rate_long"),
                v.get("burn_rate_short"),
                long_w,
                short_w,
                v.get("budget_remaining"),
            )
        )
    return out


def drift_fact(
    monitor: str, service: str | None, runs: Sequence[DriftRun], window: timedelta | None = None
) -> MonitorFact:
    """A monitor's newest successful runs (newest first) as facts; `window`: the monitor's current window."""
    facts = []
    for run in runs:
        if run.status is not RunStatus.OK or run.id is None:
            continue
        drifted = tuple(c.column for c in run.columns if c.drifted)
        facts.append(
            DriftRunFact(
                run.id,
                run.finished_at,
                run.drift_found,
                run.drifted_share,
                drifted,
                run.started_at - window if window is not None else None,
                run.started_at,
                dict(run.quality),
            )
        )
    return MonitorFact(monitor, service, facts)


def gather(
    responses: ResponsesConfig,
    config: Config,
    alerts: Iterable[Alert],
    statuses: Mapping[str, SLOStatus],
    deployments: DeploymentStore | None,
    drift: DriftStore | None,
    gates: Sequence[GateFact] = (),
) -> Facts:
    """The facts of one evaluation."""
    policies = responses.policies
    burns = burn_episodes(alerts, config) if any(p.when.trigger == "burn" for p in policies) else []
    monitors: list[MonitorFact] = []
    wanted = {p.when.drift.monitor: p.when.drift.consecutive for p in policies if p.when.drift is not None}
    for p in policies:
        if p.when.quality is not None:
            wanted.setdefault(p.when.quality.monitor, 1)
    if drift is not None:
        for name, k in wanted.items():
            monitor = config.monitors.get(name)
            runs = drift.runs(RunQuery(monitor=name, status=RunStatus.OK, limit=max(k, 1) * 4))
            service = monitor.labels.get("service") if monitor is not None else None
            newest_first = sorted(runs, key=lambda r: r.finished_at, reverse=True)
            # run lists come without their columns: read the newest k whole, for the drifted columns
            newest_first[:k] = [(drift.run(r.id) if r.id is not None else None) or r for r in newest_first[:k]]
            monitors.append(drift_fact(name, service, newest_first, monitor.window if monitor is not None else None))
    budgets: list[BudgetFact] = []
    if any(p.when.budget_below is not None or p.when.budget_exhausted for p in policies):
        for slo in config.slos:
            status = statuses.get(slo.key)
            if status is not None:
                budgets.append(BudgetFact(slo.service, slo.name, status.budget.remaining_ratio))
    services = {b.service for b in burns} | {b.service for b in budgets} | {g.service for g in gates}
    history: dict[str, list[Deployment]] = {}
    if deployments is not None:
        for service in sorted(services):
            history[service] = sorted(deployments.list(service=service, limit=DEPLOYMENT_HISTORY), key=lambda d: d.at)
    return Facts(burns, history, monitors, budgets, gates)
