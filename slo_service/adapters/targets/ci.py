"""The CI systems' trigger APIs, each with its documented request shape, auth and success status.

* GitHub Actions ``workflow_dispatch``: POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches,
  ``{"ref", "inputs"}`` → 204; ``repository_dispatch``: POST /repos/{owner}/{repo}/dispatches,
  ``{"event_type", "client_payload"}`` → 204. Bearer token, ``Accept: application/vnd.github+json``,
  ``X-GitHub-Api-Version: 2022-11-28``. Workflow inputs are strings (GitHub allows at most 10 top-level
  inputs; the idempotency key is one of them).
* GitLab pipeline trigger: POST /api/v4/projects/{id}/trigger/pipeline, form ``token``, ``ref``,
  ``variables[KEY]=value`` → 201.
* Jenkins: POST /job/{name}/buildWithParameters, form parameters, basic auth user:API token → 201 + Location
  (the queue item).
* Argo Workflows: POST /api/v1/workflows/{namespace}/submit, ``{"resourceKind": "WorkflowTemplate",
  "resourceName", "submitOptions": {"parameters": ["k=v"]}}``, Bearer token → 200.
* Kubernetes: PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}/scale with
  ``Content-Type: application/merge-patch+json`` and ``{"spec": {"replicas": N}}``, Bearer token → 200.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import quote

from slo_service.adapters.targets.http import HttpTarget, join, send
from slo_service.core.actions.ports import TriggerRequest
from slo_service.core.notify import DeliveryResult, Outcome

GITHUB_MAX_INPUTS = 10


class GitHubWorkflowDispatch(HttpTarget):
    """Runs a workflow that declares ``on: workflow_dispatch`` with matching inputs."""

    def trigger(self, request: TriggerRequest) -> DeliveryResult:
        o = self.options
        path = f"repos/{o['repo']}/actions/workflows/{quote(o['workflow'], safe='')}/dispatches"
        inputs = request.inputs()
        if len(inputs) > GITHUB_MAX_INPUTS:  # GitHub refuses more: keep the first ones (ours, then params)
            inputs = dict(list(inputs.items())[:GITHUB_MAX_INPUTS])
        return send(
            "POST",
            join(self.url, path),
            headers=_github_headers(self._secret),
            json={"ref": o.get("ref", "main"), "inputs": inputs},
            timeout=self.timeout,
            transport=self._transport,
            expect=frozenset({204}),
        )


class GitHubRepositoryDispatch(HttpTarget):
    """Fires a ``repository_dispatch`` event; workflows filter on ``types: [event_type]``."""

    def trigger(self, request: TriggerRequest) -> DeliveryResult:
        o = self.options
        payload = {**request.inputs(), "decision": dict(request.payload)}
        return send(
            "POST",
            join(self.url, f"repos/{o['repo']}/dispatches"),
            headers=_github_headers(self._secret),
            json={"event_type": o.get("event_type", f"slo-{request.action}"), "client_payload": payload},
            timeout=self.timeout,
            transport=self._transport,
            expect=frozenset({204}),
        )


def _github_headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


class GitLabTrigger(HttpTarget):
    """A pipeline trigger token of a project; the payload travels as JSON in the SLO_PAYLOAD variable."""

    def trigger(self, request: TriggerRequest) -> DeliveryResult:
        o = self.options
        form = {"token": self._secret or "", "ref": o.get("ref", "main")}
        variables = {**_upper(request.inputs()), "SLO_PAYLOAD": json.dumps(dict(request.payload), default=str)}
        form.update({f"variables[{k}]": v for k, v in variables.items()})
        project = quote(o["project"], safe="")  # a numeric id or "group/project", URL-encoded
        return send(
            "POST",
            join(self.url, f"api/v4/projects/{project}/trigger/pipeline"),
            headers={},
            data=form,
            timeout=self.timeout,
            transport=self._transport,
            expect=frozenset({201}),
        )


def _upper(inputs: Mapping[str, str]) -> dict[str, str]:
    return {k.upper(): v for k, v in inputs.items()}


class JenkinsBuild(HttpTarget):
    """A parameterised job; 201 with the queue item in Location."""

    def trigger(self, request: TriggerRequest) -> DeliveryResult:
        job = "/job/".join(quote(part, safe="") for part in self.options["job"].split("/"))
        params = {**request.inputs(), "payload": json.dumps(dict(request.payload), default=str)}
        auth = (self.user or "", self._secret or "") if self._secret else None
        return send(
            "POST",
            join(self.url, f"job/{job}/buildWithParameters"),
            headers={},
            data=params,
            auth=auth,
            timeout=self.timeout,
            transport=self._transport,
            expect=frozenset({201}),
        )


class ArgoSubmit(HttpTarget):
    """Submits a WorkflowTemplate with the action's inputs as parameters."""

    def trigger(self, request: TriggerRequest) -> DeliveryResult:
        o = self.options
        parameters = [f"{k}={v}" for k, v in request.inputs().items()]
        body = {
            "resourceKind": "WorkflowTemplate",
            "resourceName": o["template"],
            "submitOptions": {"parameters": parameters, "labels": f"slo-service/run={request.run_id}"},
        }
        return send(
            "POST",
            join(self.url, f"api/v1/workflows/{quote(o['namespace'], safe='')}/submit"),
            headers=self._bearer(),
            json=body,
            timeout=self.timeout,
            transport=self._transport,
            expect=frozenset({200}),
        )


class KubernetesScale(HttpTarget):
    """Sets a Deployment's replicas through its scale subresource (params.replicas, else options.replicas)."""

    def trigger(self, request: TriggerRequest) -> DeliveryResult:
        o = self.options
        text = request.params.get("replicas") or o.get("replicas")
        try:
            replicas = int(text or "")
        except ValueError:
            return DeliveryResult(Outcome.FAILED, error=f"scale needs an integer replicas parameter, got {text!r}")
        path = (
            f"apis/apps/v1/namespaces/{quote(o['namespace'], safe='')}"
            f"/deployments/{quote(request.params.get('deployment') or o['deployment'], safe='')}/scale"
        )
        return send(
            "PATCH",
            join(self.url, path),
            headers={**self._bearer(), "Content-Type": "application/merge-patch+json"},
            content=json.dumps({"spec": {"replicas": replicas}}).encode(),
            timeout=self.timeout,
            transport=self._transport,
            expect=frozenset({200}),
        )
