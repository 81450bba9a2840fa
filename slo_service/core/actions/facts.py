"""What the policies look at in one evaluation: burn episodes, deployments, drift streaks, budgets, gates.

The pipeline gathers these from the alert book, the deployment history, the drift runs and the SLO
statuses; the matcher only reads them, so every decision can be replayed from the facts it was made on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slo_service.core.deployments import Deployment


def iso(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


@dataclass(frozen=True)
class BurnEpisode:
    """A firing burn-rate alert: one episode of one tier of one SLO."""

    service: str
    slo: str  # the SLO's name
    severity: str
    tier: str
    fingerprint: str
    started_at: datetime  # when the burn began (the alert's active_since)
    burn_rate_long: float | None = None
    burn_rate_short: float | None = None
    long_window: str | None = None
    short_window: str | None = None
    budget_remaining: float | None = None

    @property
    def slo_key(self) -> str:
        return f"{self.service}/{self.slo}"

    @property
    def episode(self) -> str:
        return f"{self.fingerprint}@{iso(self.started_at)}"

    def why(self) -> dict[str, Any]:
        return {
            "slo": self.slo_key,
            "severity": self.severity,
            "tier": self.tier,
            "burn_started_at": iso(self.started_at),
            "burn_rate_long": self.burn_rate_long,
            "burn_rate_short": self.burn_rate_short,
            "long_window": self.long_window,
            "short_window": self.short_window,
            "budget_remaining": self.budget_remaining,
        }


def deployment_why(d: Deployment) -> dict[str, Any]:
    """A deployment as a decision records it."""
    return {
        "id": d.id,
        "service": d.service,
        "environment": d.environment,
        "version": d.version,
        "model_version": d.model_version,
        "commit": d.commit,
        "pipeline_url": d.pipeline_url,
        "status": d.status,
        "at": iso(d.at),
    }


@dataclass(frozen=True)
class DriftRunFact:
    """One finished run of a drift monitor."""

    id: int
    finished_at: datetime
    drift_found: bool | None
    drifted_share: float | None = None
    drifted_columns: tuple[str, ...] = ()
    window_start: datetime | None = None
    window_end: datetime | None = None
    quality: Mapping[str, float] = field(default_factory=dict)

    def why(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "finished_at": iso(self.finished_at),
            "drift_found": self.drift_found,
            "drifted_share": self.drifted_share,
            "drifted_columns": list(self.drifted_columns),
            "quality": dict(self.quality),
        }


@dataclass(frozen=True)
class MonitorFact:
    """A drift monitor, its service (label `service`) and its newest runs, newest first."""

    monitor: str
    service: str | None
    runs: Sequence[DriftRunFact]


@dataclass(frozen=True)
class BudgetFact:
    service: str
    slo: str
    remaining: float | None  # share of the period's error budget left (< 0: overspent)

    @property
    def slo_key(self) -> str:
        return f"{self.service}/{self.slo}"


@dataclass(frozen=True)
class GateFact:
    """A gate evaluation that answered (part A's quality gates)."""

    id: str
    service: str
    result: str  # pass | warning | fail | inconclusive
    at: datetime
    deployment_id: str | None = None


@dataclass(frozen=True)
class Facts:
    """Everything one evaluation found; `deployments` per service, oldest first."""

    burns: Sequence[BurnEpisode] = ()
    deployments: Mapping[str, Sequence[Deployment]] = field(default_factory=dict)
    monitors: Sequence[MonitorFact] = ()
    budgets: Sequence[BudgetFact] = ()
    gates: Sequence[GateFact] = ()
