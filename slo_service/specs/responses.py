"""The `responses:` section: CI targets and the ordered response policies (condition → action), read into
`ResponsesConfig` with every problem located at its file, line and field.

    responses:
      status_timeout: 30m          # CI reports back within this, else the run is timed_out (and alerts)
      targets:
        - {name: github, type: github_workflow_dispatch, repo: acme/shop, workflow: rollback.yml,
           token_env: GITHUB_TOKEN}
      policies:
        - name: rollback-after-deploy
          when: {service: checkout, burn_rate: page, after_deploy: 30m}
          action: rollback
          target: github

Like `alerting:`, the section lives in one file; secrets are named by environment variable (`token_env`,
read from NAME or NAME_FILE), never written in the file.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

from pydantic import Field, StrictBool, StrictInt

from slo_service.core.actions.policy import (
    LOCAL_ACTIONS,
    ActionKind,
    Conditions,
    DriftCondition,
    QualityCondition,
    ResponsePolicy,
    ResponsesConfig,
    TargetConfig,
    TargetKind,
)
from slo_service.specs.alerting_receivers import secret_at
from slo_service.specs.checks import check_name, check_url, duration_at
from slo_service.specs.problems import SpecFile, describe, validate_spec
from slo_service.specs.schema import Number, Spec
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["RESPONSES", "TARGET_TYPES", "build_responses"]

RESPONSES: YPath = ("responses",)
TARGET_TYPES = tuple(k.value for k in TargetKind)
DEFAULT_URLS = {
    TargetKind.GITHUB_WORKFLOW: "https://api.github.com",
    TargetKind.GITHUB_REPOSITORY: "https://api.github.com",
    TargetKind.GITLAB: "https://gitlab.com",
    TargetKind.KUBERNETES_SCALE: "https://kubernetes.default.svc",
}
REQUIRED = {
    TargetKind.GITHUB_WORKFLOW: ("repo", "workflow"),
    TargetKind.GITHUB_REPOSITORY: ("repo",),
    TargetKind.GITLAB: ("project",),
    TargetKind.JENKINS: ("job",),
    TargetKind.ARGO: ("namespace", "template"),
    TargetKind.KUBERNETES_SCALE: ("namespace", "deployment"),
    TargetKind.WEBHOOK: (),
}
SECRET_NEEDED = {TargetKind.GITLAB: "the pipeline trigger token", TargetKind.JENKINS: "the user's API token"}
OPTION_FIELDS = ("repo", "workflow", "ref", "event_type", "project", "job", "namespace", "template", "deployment")


class TargetSpec(Spec):
    name: str
    type: str
    url: str | None = None
    token_env: str | None = None  # GitHub/Argo/Kubernetes bearer token, GitLab trigger token, Jenkins API token
    secret_env: str | None = None  # webhook: the whsec_ secret
    user: str | None = None  # Jenkins
    timeout: str = "10s"
    repo: str | None = None
    workflow: str | None = None
    ref: str | None = None
    event_type: str | None = None
    project: str | None = None
    job: str | None = None
    namespace: str | None = None
    template: str | None = None
    deployment: str | None = None
    replicas: StrictInt | None = None


class DriftSpec(Spec):
    monitor: str
    consecutive: StrictInt = 1


class QualitySpec(Spec):
    monitor: str
    metric: str
    below: Number


class WhenSpec(Spec):
    service: str | None = None
    slo: str | None = None
    burn_rate: str | None = None  # the severity of a firing burn-rate alert (page, ticket ...)
    after_deploy: str | None = None
    drift: DriftSpec | None = None
    quality: QualitySpec | None = None
    budget_below: Number | None = None
    budget_exhausted: StrictBool = False
    gate_failed: StrictBool = False


class ResponsePolicySpec(Spec):
    name: str
    when: WhenSpec
    action: str
    target: str | None = None
    params: dict[str, str | int | float] = {}
    cooldown: str = "1h"
    approval: StrictBool = False
    dry_run: StrictBool = False
    status_timeout: str | None = None
    continue_: StrictBool = Field(False, alias="continue")
    approval_timeout: str | None = None


class ResponsesSpec(Spec):
    dry_run: StrictBool = False
    status_timeout: str = "30m"
    max_attempts: StrictInt = 20
    targets: list[Any] | None = None
    policies: list[Any] | None = None


def build_responses(file: SpecFile | None, raw: Any, monitors: set[str] | None = None) -> ResponsesConfig:
    """The ResponsesConfig of the section (empty when there is none), after reporting every problem.
    `monitors`: the drift monitors defined (None when some file could not be read: names are not checked)."""
    if file is None or raw is None:
        return ResponsesConfig()
    if not isinstance(raw, dict):
        file.add(RESPONSES, f"responses must be a mapping, got {describe(raw)}")
        return ResponsesConfig()
    spec = validate_spec(file, ResponsesSpec, raw, RESPONSES)
    if spec is None:
        return ResponsesConfig()
    timeout = duration_at(file, (*RESPONSES, "status_timeout"), spec.status_timeout) or timedelta(minutes=30)
    if spec.max_attempts < 1:
        file.add((*RESPONSES, "max_attempts"), f"max_attempts {spec.max_attempts} must be 1 or more")
    targets: dict[str, TargetConfig] = {}
    for i, item in enumerate(spec.targets or []):
        path: YPath = (*RESPONSES, "targets", i)
        target = _target(file, path, item)
        if target is None:
            continue
        if target.name in targets:
            file.add((*path, "name"), f"duplicate target name {target.name!r}")
            continue
        targets[target.name] = target
    target_names = set(targets) | {t.get("name") for t in spec.targets or [] if isinstance(t, dict)}
    policies: list[ResponsePolicy] = []
    seen: set[str] = set()
    for i, item in enumerate(spec.policies or []):
        path = (*RESPONSES, "policies", i)
        policy = _policy(file, path, item, target_names)
        if policy is None:
            continue
        if not _monitors_known(file, path, policy, monitors):
            continue
        if policy.name in seen:
            file.add((*path, "name"), f"duplicate policy name {policy.name!r}")
            continue
        seen.add(policy.name)
        policies.append(policy)
    return ResponsesConfig(tuple(policies), targets, spec.dry_run, timeout, max(spec.max_attempts, 1))


def _target(file: SpecFile, path: YPath, raw: Any) -> TargetConfig | None:
    if not isinstance(raw, dict):
        file.add(path, f"expected a mapping, got {describe(raw)}")
        return None
    spec = validate_spec(file, TargetSpec, raw, path)
    if spec is None:
        return None
    ok = check_name(file, (*path, "name"), spec.name)
    if spec.type not in TARGET_TYPES:
        file.add((*path, "type"), f"unknown target type {spec.type!r}; known types: {', '.join(TARGET_TYPES)}")
        return None
    kind = TargetKind(spec.type)
    url = spec.url or DEFAULT_URLS.get(kind)
    if url is None:
        file.add((*path, "url"), f"url is required for a {kind.value} target")
        ok = False
    elif not check_url(file, (*path, "url"), url):
        ok = False
    for field in REQUIRED[kind]:
        if getattr(spec, field) is None:
            file.add(path, f"{field} is required for a {kind.value} target")
            ok = False
    if kind is TargetKind.JENKINS and spec.user is None and spec.token_env is not None:
        file.add((*path, "user"), "user is required with token_env for Jenkins (basic auth user:API token)")
        ok = False
    secret_field = "secret_env" if kind is TargetKind.WEBHOOK else "token_env"
    other = "token_env" if kind is TargetKind.WEBHOOK else "secret_env"
    if getattr(spec, other) is not None:
        file.add((*path, other), f"a {kind.value} target takes {secret_field}, not {other}")
        ok = False
    env = getattr(spec, secret_field)
    secret = None
    if env is not None:
        secret = secret_at(file, (*path, secret_field), env)
        ok = ok and secret is not None
        if secret is not None and kind is TargetKind.WEBHOOK and not _whsec(secret):
            file.add((*path, secret_field), f"{env} must hold a Standard Webhooks secret: whsec_ followed by base64")
            ok = False
    elif kind in SECRET_NEEDED:
        file.add(path, f"{secret_field} is required for a {kind.value} target: {SECRET_NEEDED[kind]}")
        ok = False
    timeout = duration_at(file, (*path, "timeout"), spec.timeout)
    options = {f: v for f in OPTION_FIELDS if (v := getattr(spec, f)) is not None}
    if spec.replicas is not None:
        options["replicas"] = str(spec.replicas)
    if not ok or timeout is None or url is None:
        return None
    return TargetConfig(spec.name, kind, url, options, secret, spec.user, timeout.total_seconds())


def _monitors_known(file: SpecFile, path: YPath, policy: ResponsePolicy, monitors: set[str] | None) -> bool:
    if monitors is None:
        return True
    ok = True
    for key, cond in (("drift", policy.when.drift), ("quality", policy.when.quality)):
        if cond is not None and cond.monitor not in monitors:
            known = ", ".join(sorted(monitors)) or "none defined"
            file.add((*path, "when", key, "monitor"), f"unknown monitor {cond.monitor!r}; known monitors: {known}")
            ok = False
    return ok


def _whsec(secret: str) -> bool:
    try:
        base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError:
        return False
    return secret.startswith("whsec_")


def _policy(file: SpecFile, path: YPath, raw: Any, targets: set[Any]) -> ResponsePolicy | None:
    if not isinstance(raw, dict):
        file.add(path, f"expected a mapping, got {describe(raw)}")
        return None
    spec = validate_spec(file, ResponsePolicySpec, raw, path)
    if spec is None:
        return None
    ok = check_name(file, (*path, "name"), spec.name)
    when = _when(file, (*path, "when"), spec.when)
    ok = ok and when is not None
    kinds = {k.value for k in ActionKind} - {ActionKind.CUSTOM.value}
    kind = ActionKind(spec.action) if spec.action in kinds else ActionKind.CUSTOM
    custom = spec.action if kind is ActionKind.CUSTOM else None
    if custom is not None and not check_name(file, (*path, "action"), custom):
        ok = False
    if spec.target is None and kind not in LOCAL_ACTIONS:
        what = f"the custom action {custom!r}" if custom else f"a {kind.value}"
        file.add(path, f"target is required for {what}: name one of responses.targets")
        ok = False
    if spec.target is not None and spec.target not in targets:
        known = ", ".join(sorted(str(t) for t in targets if t)) or "none defined"
        file.add((*path, "target"), f"unknown target {spec.target!r}; known targets: {known}")
        ok = False
    if kind is ActionKind.ROLLBACK and when is not None and when.trigger == "drift":
        file.add((*path, "action"), "a rollback needs a deployment to roll back: use it on burn, budget or gate")
        ok = False
    cooldown = duration_at(file, (*path, "cooldown"), spec.cooldown)
    status_timeout = (
        duration_at(file, (*path, "status_timeout"), spec.status_timeout) if spec.status_timeout is not None else None
    )
    approval_timeout = None
    if spec.approval_timeout is not None:
        approval_timeout = duration_at(file, (*path, "approval_timeout"), spec.approval_timeout)
        if approval_timeout is None:
            ok = False
        elif not spec.approval:
            file.add((*path, "approval_timeout"), "approval_timeout needs approval: true")
            ok = False
    if cooldown is None or (spec.status_timeout is not None and status_timeout is None) or not ok or when is None:
        return None
    params = {k: str(v) for k, v in spec.params.items()}
    return ResponsePolicy(
        spec.name,
        when,
        kind,
        spec.target,
        custom,
        params,
        cooldown,
        spec.approval,
        spec.dry_run,
        status_timeout,
        spec.continue_,
        approval_timeout,
    )


def _when(file: SpecFile, path: YPath, spec: WhenSpec) -> Conditions | None:
    ok = True
    after = duration_at(file, (*path, "after_deploy"), spec.after_deploy) if spec.after_deploy else None
    if spec.after_deploy and after is None:
        ok = False
    triggers = [
        name
        for name, given in (
            ("burn_rate", spec.burn_rate is not None or spec.after_deploy is not None),
            ("drift", spec.drift is not None or spec.quality is not None),
        )
        if given
    ]
    if len(triggers) > 1:
        file.add(path, "a policy reacts to a burn (burn_rate, after_deploy) or to drift (drift, quality), not both")
        ok = False
    given = [spec.burn_rate, spec.after_deploy, spec.drift, spec.quality, spec.budget_below]
    if all(v is None for v in given) and not (spec.budget_exhausted or spec.gate_failed):
        conditions = "burn_rate, after_deploy, drift, quality, budget_below, budget_exhausted or gate_failed"
        file.add(path, f"give a condition: {conditions}")
        ok = False
    if spec.drift is not None and spec.drift.consecutive < 1:
        file.add((*path, "drift", "consecutive"), f"consecutive {spec.drift.consecutive} must be 1 or more")
        ok = False
    if spec.budget_below is not None and not 0 < spec.budget_below <= 1:
        file.add((*path, "budget_below"), f"budget_below {spec.budget_below:g} is a share of the budget: 0 < x <= 1")
        ok = False
    if not ok:
        return None
    return Conditions(
        spec.service,
        spec.slo,
        spec.burn_rate,
        after,
        DriftCondition(spec.drift.monitor, spec.drift.consecutive) if spec.drift else None,
        QualityCondition(spec.quality.monitor, spec.quality.metric, spec.quality.below) if spec.quality else None,
        spec.budget_below,
        spec.budget_exhausted,
        spec.gate_failed,
    )
