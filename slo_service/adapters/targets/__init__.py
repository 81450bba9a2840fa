"""CI targets of response actions: GitHub Actions, GitLab, Jenkins, Argo Workflows, Kubernetes scale, webhooks."""

from slo_service.adapters.targets.factory import build_target, build_targets

__all__ = ["build_target", "build_targets"]
