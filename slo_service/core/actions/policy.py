"""The `responses:` configuration in the core model: targets, ordered response policies and their conditions.

A response policy is an error-budget policy in the SRE workbook's sense, made executable: when its
conditions hold for a subject (an SLO's burn episode, a monitor's drift streak, a budget, a failed gate),
the service decides on an action (rollback, retrain, check-data, freeze, scale, notify or a custom one)
and, unless it only notifies, asks a CI target to carry it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum


class ActionKind(StrEnum):
    ROLLBACK = "rollback"
    RETRAIN = "retrain"
    CHECK_DATA = "check-data"
    FREEZE = "freeze"
    SCALE = "scale"
    NOTIFY = "notify"
    CUSTOM = "custom"


LOCAL_ACTIONS = frozenset({ActionKind.CHECK_DATA, ActionKind.FREEZE, ActionKind.NOTIFY})
"""Actions the service carries out itself; a target is optional for them (told as well when given)."""


class TargetKind(StrEnum):
    GITHUB_WORKFLOW = "github_workflow_dispatch"
    GITHUB_REPOSITORY = "github_repository_dispatch"
    GITLAB = "gitlab_trigger"
    JENKINS = "jenkins"
    ARGO = "argo_workflows"
    KUBERNETES_SCALE = "kubernetes_scale"
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class TargetConfig:
    """One CI system the service can trigger. `options` hold the kind's fields (repo, workflow, ref,
    project, job, namespace, template, deployment ...); `secret` was read from the environment."""

    name: str
    kind: TargetKind
    url: str
    options: Mapping[str, str] = field(default_factory=dict)
    secret: str | None = None
    user: str | None = None  # Jenkins: the user of the API token
    timeout: float = 10.0

    def __repr__(self) -> str:  # never print the secret
        return f"TargetConfig(name={self.name!r}, kind={self.kind.value!r}, url={self.url!r})"


@dataclass(frozen=True)
class DriftCondition:
    """Drift found in `consecutive` runs of `monitor` in a row (the newest runs)."""

    monitor: str
    consecutive: int = 1


@dataclass(frozen=True)
class QualityCondition:
    """The newest run of `monitor` measured `metric` below `below`."""

    monitor: str
    metric: str
    below: float


@dataclass(frozen=True)
class Conditions:
    """What must hold together (all given conditions) for a policy to match.

    `service`/`slo` narrow the subject; `burn_severity` is a firing burn-rate alert of that severity;
    `after_deploy` asks that burn to have started within that long after a deployment of the service.
    """

    service: str | None = None
    slo: str | None = None  # "service/name" or the SLO's name
    burn_severity: str | None = None
    after_deploy: timedelta | None = None
    drift: DriftCondition | None = None
    quality: QualityCondition | None = None
    budget_below: float | None = None  # remaining share of the error budget, 0..1
    budget_exhausted: bool = False
    gate_failed: bool = False

    @property
    def trigger(self) -> str:
        """The kind of subject the policy reacts to: burn, drift, quality, budget or gate."""
        if self.burn_severity is not None or self.after_deploy is not None:
            return "burn"
        if self.drift is not None:
            return "drift"
        if self.quality is not None:
            return "quality"
        if self.budget_below is not None or self.budget_exhausted:
            return "budget"
        return "gate"


@dataclass(frozen=True)
class ResponsePolicy:
    """One ordered rule: conditions → action. The first policy matching a subject decides, unless it says
    `continue_` (then later policies are tried for the same subject too, as in Alertmanager's routes)."""

    name: str
    when: Conditions
    action: ActionKind
    target: str | None = None
    custom: str | None = None  # the name of a custom action
    params: Mapping[str, str] = field(default_factory=dict)
    cooldown: timedelta = timedelta(hours=1)
    approval: bool = False
    dry_run: bool = False
    status_timeout: timedelta | None = None  # None: the section's default
    continue_: bool = False
    approval_timeout: timedelta | None = None  # a run nobody approved or denied within this expires

    @property
    def action_name(self) -> str:
        """The action as shown and counted: the custom action's own name, else the kind."""
        return self.custom if self.action is ActionKind.CUSTOM and self.custom else self.action.value


@dataclass(frozen=True)
class ResponsesConfig:
    """The whole `responses:` section."""

    policies: tuple[ResponsePolicy, ...] = ()
    targets: Mapping[str, TargetConfig] = field(default_factory=dict)
    dry_run: bool = False  # every policy only records what it would have done
    status_timeout: timedelta = timedelta(minutes=30)  # CI must report back within this
    max_attempts: int = 20  # sends to a target before the run fails

    def timeout_of(self, policy: ResponsePolicy) -> timedelta:
        return policy.status_timeout if policy.status_timeout is not None else self.status_timeout
