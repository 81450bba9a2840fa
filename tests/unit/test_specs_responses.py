"""The `responses:` section: targets and ordered policies into ResponsesConfig, and one row per validation
rule with its message, field path and line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from slo_service.core.actions.policy import ActionKind, TargetKind
from slo_service.specs import load_config, validate_files

BASE = """\
apiVersion: slo-service/v1
services:
  - name: checkout
sources:
  - name: pushed
    type: push
slos:
  - service: checkout
    name: latency
    objective: 99
    period: 28d
    sli:
      ratio: {source: pushed, good: 'x_total{code="200"}', total: x_total}
monitors:
  - name: fraud
    current: {push: true}
    reference: {rolling: 7d}
    columns: {numerical: [x]}
"""

GOOD = (
    BASE
    + """\
responses:
  status_timeout: 20m
  targets:
    - name: github
      type: github_workflow_dispatch
      repo: acme/shop
      workflow: rollback.yml
      token_env: T_GH_TOKEN
    - name: gitlab
      type: gitlab_trigger
      url: http://127.0.0.1:1
      project: ml/fraud
      token_env: T_GL_TOKEN
  policies:
    - name: rollback-after-deploy
      when: {service: checkout, burn_rate: page, after_deploy: 30m}
      action: rollback
      target: github
      cooldown: 2h
    - name: retrain
      when: {drift: {monitor: fraud, consecutive: 3}}
      action: retrain
      target: gitlab
      approval: true
      approval_timeout: 4h
    - name: freeze
      when: {budget_exhausted: true}
      action: freeze
    - name: warm-cache
      when: {burn_rate: ticket}
      action: warm-cache
      target: github
      params: {size: 3}
      continue: true
"""
)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_GH_TOKEN", "ghp_testtoken")
    monkeypatch.setenv("T_GL_TOKEN", "glptt-test")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_a_valid_section_becomes_targets_and_ordered_policies(tmp_path: Path) -> None:
    config = load_config([_write(tmp_path, GOOD)])
    responses = config.responses
    assert responses is not None
    assert responses.status_timeout == timedelta(minutes=20)
    gh = responses.targets["github"]
    assert gh.kind is TargetKind.GITHUB_WORKFLOW and gh.url == "https://api.github.com"
    assert gh.secret == "ghp_testtoken" and gh.options["workflow"] == "rollback.yml"
    assert [p.name for p in responses.policies] == ["rollback-after-deploy", "retrain", "freeze", "warm-cache"]
    rollback, retrain, freeze, custom = responses.policies
    assert rollback.when.after_deploy == timedelta(minutes=30) and rollback.cooldown == timedelta(hours=2)
    assert retrain.approval and retrain.when.drift is not None and retrain.when.drift.consecutive == 3
    assert retrain.approval_timeout == timedelta(hours=4) and rollback.approval_timeout is None
    assert freeze.action is ActionKind.FREEZE and freeze.target is None
    assert custom.action is ActionKind.CUSTOM and custom.action_name == "warm-cache"
    assert custom.params == {"size": "3"} and custom.continue_


def _problems(tmp_path: Path, text: str) -> list[str]:
    return [f"{p.line}:{p.field}: {p.message}" for p in validate_files([_write(tmp_path, text)])]


def _with(policies: str = "", targets: str = "") -> str:
    return (
        BASE
        + "responses:\n  targets:\n"
        + (targets or "    - {name: gh, type: github_repository_dispatch, repo: a/b, token_env: T_GH_TOKEN}\n")
        + "  policies:\n"
        + policies
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            _with("    - {name: p, when: {burn_rate: page}, action: rollback}\n"),
            "23:responses.policies[0]: target is required for a rollback",
        ),
        (
            _with("    - {name: p, when: {burn_rate: page}, action: rollback, target: nope}\n"),
            "23:responses.policies[0].target: unknown target 'nope'; known targets: gh",
        ),
        (
            _with("    - {name: p, when: {}, action: notify}\n"),
            "23:responses.policies[0].when: give a condition",
        ),
        (
            _with("    - {name: p, when: {burn_rate: page, after_deploy: soon}, action: notify}\n"),
            "23:responses.policies[0].when.after_deploy:",
        ),
        (
            _with("    - {name: p, when: {budget_below: 5}, action: freeze}\n"),
            "23:responses.policies[0].when.budget_below: budget_below 5 is a share of the budget",
        ),
        (
            _with("    - {name: p, when: {drift: {monitor: m}}, action: rollback, target: gh}\n"),
            "23:responses.policies[0].action: a rollback needs a deployment",
        ),
        (
            _with("    - {name: p, when: {burn_rate: page}, action: notify, cooldwn: 1h}\n"),
            "23:responses.policies[0].cooldwn: unknown field 'cooldwn' (did you mean 'cooldown'?)",
        ),
        (
            _with(targets="    - {name: j, type: jenkins, url: 'http://j', job: x}\n"),
            "21:responses.targets[0]: token_env is required for a jenkins target",
        ),
        (
            _with(targets="    - {name: j, type: circleci, url: 'http://j'}\n"),
            "21:responses.targets[0].type: unknown target type 'circleci'",
        ),
        (
            _with(targets="    - {name: g, type: github_workflow_dispatch, repo: a/b, token_env: T_MISSING}\n"),
            "21:responses.targets[0].token_env: environment variable T_MISSING is not set",
        ),
        (
            _with("    - {name: p, when: {drift: {monitor: nope, consecutive: 2}}, action: notify}\n"),
            "23:responses.policies[0].when.drift.monitor: unknown monitor 'nope'; known monitors: fraud",
        ),
        (
            _with(targets="    - {name: a, type: argo_workflows, url: 'http://a', namespace: n}\n"),
            "21:responses.targets[0]: template is required for a argo_workflows target",
        ),
        (
            _with("    - {name: p, when: {burn_rate: page}, action: notify, approval_timeout: 1h}\n"),
            "23:responses.policies[0].approval_timeout: approval_timeout needs approval: true",
        ),
    ],
    ids=[
        "target-required",
        "unknown-target",
        "no-condition",
        "bad-duration",
        "budget-share",
        "rollback-on-drift",
        "typo",
        "jenkins-token",
        "unknown-type",
        "missing-env",
        "unknown-monitor",
        "argo-template",
        "approval-timeout-without-approval",
    ],
)
def test_problems_name_the_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    problems = _problems(tmp_path, text)
    assert any(p.startswith(expected) for p in problems), problems
