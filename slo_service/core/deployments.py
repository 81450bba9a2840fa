"""Deployments and deploy freezes: the records CI sends in, the "previous good version" rule, the store port.

Pure: no I/O. The SQL store lives in adapters/sql/deployment_store.py, the in-memory one in
adapters/memory_deployments.py; both implement `DeploymentStore`.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

SUCCEEDED = "succeeded"
"""The status of a deployment that went out and was not rolled back; only these count as "good"."""
ROLLED_BACK = "rolled_back"
"""A deployment a rollback took back (set when the rollback run succeeded); never a "previous good" one."""
DEPLOYMENT_STATUSES = ("succeeded", "failed", ROLLED_BACK)


@dataclass(frozen=True)
class Deployment:
    """One deployment of `version` of `service` to `environment` at `at`, as CI reported it."""

    id: str
    service: str
    environment: str
    version: str
    model_version: str | None
    commit: str | None
    pipeline_url: str | None
    at: datetime
    status: str = SUCCEEDED


@dataclass(frozen=True)
class Freeze:
    """Deploys of `service` refused since `since` (by a person or a policy named in `by`) until lifted."""

    service: str
    reason: str
    since: datetime
    by: str
    lifted_at: datetime | None = None
    lifted_by: str | None = None

    @property
    def active(self) -> bool:
        return self.lifted_at is None


@dataclass(frozen=True)
class DeploymentMetrics:
    """What /metrics shows: deployments per (service, environment) and the latest of each."""

    counts: dict[tuple[str, str], int]
    latest: dict[tuple[str, str], Deployment]


def _order(d: Deployment) -> tuple[datetime, str]:
    return (d.at, d.id)


def previous_good(
    deployments: Iterable[Deployment], service: str, environment: str, before_version: str
) -> Deployment | None:
    """The last succeeded deployment of `service` in `environment` of a version other than `before_version`,
    made before `before_version` was (last) deployed there: what a rollback of `before_version` goes back
    to. If `before_version` was never deployed there, the last succeeded deployment of another version."""
    mine = sorted(
        (d for d in deployments if d.service == service and d.environment == environment),
        key=_order,
    )
    cut = max((i for i, d in enumerate(mine) if d.version == before_version), default=len(mine))
    for d in reversed(mine[:cut]):
        if d.status == SUCCEEDED and d.version != before_version:
            return d
    return None


class DeploymentStore(Protocol):
    """Durable deployments, deploy freezes and the CI signatures already seen. Each method is one
    transaction and raises StoreUnavailable while the store cannot be reached."""

    def record(self, d: Deployment) -> Deployment:
        """Store `d` (its id must be new) and return it."""
        ...

    def get(self, deployment_id: str) -> Deployment | None: ...

    def mark(self, deployment_id: str, status: str) -> Deployment | None:
        """Set the status of a stored deployment (e.g. rolled_back); None when unknown."""
        ...

    def list(
        self,
        service: str | None = None,
        environment: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[Deployment]:
        """Deployments with `since <= at < until`, newest first, at most `limit`."""
        ...

    def latest(self, service: str, environment: str) -> Deployment | None: ...

    def previous_good(self, service: str, environment: str) -> Deployment | None:
        """`previous_good` of the latest deployment of `service` in `environment` (None without one)."""
        ...

    def counts(self) -> dict[tuple[str, str], int]:
        """The number of deployments per (service, environment)."""
        ...

    def latest_per_target(self) -> builtins.list[Deployment]:
        """The latest deployment of every (service, environment)."""
        ...

    def freeze(self, service: str, reason: str, since: datetime, by: str) -> Freeze:
        """Freeze `service`; if it is frozen already, the active freeze is kept and returned unchanged."""
        ...

    def lift(self, service: str, at: datetime, by: str) -> Freeze | None:
        """Lift the active freeze of `service` and return it lifted; None if it was not frozen."""
        ...

    def active_freeze(self, service: str) -> Freeze | None: ...

    def active_freezes(self) -> builtins.list[Freeze]: ...

    def remember_signature(self, signature: str, at: datetime, forget_before: datetime) -> bool:
        """Note that a CI request signed `signature` arrived at `at` and forget the ones seen before
        `forget_before`; False if `signature` was seen already (a replay)."""
        ...


AUTO_FREEZE_BY = "policy:error-budget"
"""Who a freeze made because an error budget ran out is by; only such freezes are lifted on recovery."""


@dataclass(frozen=True)
class FreezeDecision:
    """Freeze or lift `service`, and why."""

    service: str
    freeze: bool
    reason: str


def budget_freeze_decisions(
    remaining: Iterable[tuple[str, str, float | None]], active: Iterable[Freeze]
) -> builtins.list[FreezeDecision]:
    """From (service, SLO key, error budget remaining ratio) of every SLO and the active freezes: freeze every
    service with an exhausted budget (remaining <= 0) that is not frozen, and lift the error-budget freezes
    (AUTO_FREEZE_BY) of services whose budgets have all recovered. A freeze a person or another policy made
    is never lifted here; an SLO without data (None) counts as not exhausted."""
    exhausted: dict[str, builtins.list[str]] = {}
    services: set[str] = set()
    for service, key, ratio in remaining:
        services.add(service)
        if ratio is not None and ratio <= 0:
            exhausted.setdefault(service, []).append(key)
    frozen = {f.service: f for f in active if f.active}
    decisions = [
        FreezeDecision(s, True, "error budget exhausted: " + ", ".join(sorted(keys)))
        for s, keys in sorted(exhausted.items())
        if s not in frozen
    ]
    decisions += [
        FreezeDecision(s, False, "error budgets recovered")
        for s, f in sorted(frozen.items())
        if f.by == AUTO_FREEZE_BY and s in services and s not in exhausted
    ]
    return decisions


POLICY_BY_PREFIX = "policy:"
"""A freeze a response policy made is by `policy:<name>`; a person's freeze is by anything else."""


def policy_freeze_lifts(
    active: Iterable[Freeze],
    remaining: Iterable[tuple[str, str, float | None]],
    policies: Iterable[str],
    holding: Iterable[tuple[str, str]],
) -> builtins.list[FreezeDecision]:
    """The freezes response policies made that end now: a freeze by `policy:<name>` of a configured freeze
    policy (`policies`) is lifted once that policy's condition no longer holds for the service (no
    (policy, service) in `holding`) and no SLO of the service has an exhausted budget (remaining <= 0; `remaining`
    as in budget_freeze_decisions). A freeze a person made, or one by a policy no longer configured, is kept."""
    exhausted = {service for service, _key, ratio in remaining if ratio is not None and ratio <= 0}
    held = set(holding)
    by = {f"{POLICY_BY_PREFIX}{name}": name for name in policies}
    out = []
    for f in sorted((f for f in active if f.active), key=lambda f: f.service):
        name = by.get(f.by)
        if name is None or (name, f.service) in held or f.service in exhausted:
            continue
        out.append(
            FreezeDecision(f.service, False, f"policy {name}: its condition cleared and no error budget is exhausted")
        )
    return out
