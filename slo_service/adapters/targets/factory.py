"""Build Target adapters from the configuration's TargetConfigs (secrets already read by the loader)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slo_service.adapters.targets.ci import (
    ArgoSubmit,
    GitHubRepositoryDispatch,
    GitHubWorkflowDispatch,
    GitLabTrigger,
    JenkinsBuild,
    KubernetesScale,
)
from slo_service.adapters.targets.webhook import StandardWebhook
from slo_service.core.actions.policy import TargetConfig, TargetKind
from slo_service.core.actions.ports import Target

_KINDS: dict[TargetKind, Any] = {
    TargetKind.GITHUB_WORKFLOW: GitHubWorkflowDispatch,
    TargetKind.GITHUB_REPOSITORY: GitHubRepositoryDispatch,
    TargetKind.GITLAB: GitLabTrigger,
    TargetKind.JENKINS: JenkinsBuild,
    TargetKind.ARGO: ArgoSubmit,
    TargetKind.KUBERNETES_SCALE: KubernetesScale,
    TargetKind.WEBHOOK: StandardWebhook,
}


def build_target(config: TargetConfig, **kwargs: Any) -> Target:
    """One adapter per target; `kwargs` (transport, clock) are for tests."""
    target: Target = _KINDS[config.kind](
        config.name, config.url, config.options, config.secret, config.timeout, config.user, **kwargs
    )
    return target


def build_targets(configs: Mapping[str, TargetConfig]) -> dict[str, Target]:
    return {name: build_target(config) for name, config in configs.items()}
