"""Every CI target against a real local HTTP server checking method, path, headers, auth and body the way the
real API documents them, and the answers that mean delivered, retry or failed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from slo_service.adapters.targets import build_target
from slo_service.core.actions.policy import TargetConfig, TargetKind
from slo_service.core.actions.ports import TriggerRequest
from slo_service.core.notify import Outcome

REQUEST = TriggerRequest(
    7,
    "abc123key",
    "rollback",
    "checkout",
    {"reason": "burn"},
    {"environment": "prod", "from_version": "v3", "to_version": "v1", "service": "checkout"},
)


def _target(server: HTTPServer, kind: TargetKind, secret: str | None = "s3cret-token", **options: str) -> object:
    return build_target(TargetConfig("t", kind, server.url_for("/").rstrip("/"), options, secret, user="bot"))


def test_github_workflow_dispatch(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(
        "/repos/acme/shop/actions/workflows/rollback.yml/dispatches",
        method="POST",
        headers={
            "Authorization": "Bearer s3cret-token",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
        json={
            "ref": "main",
            "inputs": {
                "action": "rollback",
                "service": "checkout",
                "idempotency_key": "abc123key",
                "action_run_id": "7",
                "environment": "prod",
                "from_version": "v3",
                "to_version": "v1",
                "reason": "burn",
            },
        },
    ).respond_with_data("", status=204)
    target = _target(httpserver, TargetKind.GITHUB_WORKFLOW, repo="acme/shop", workflow="rollback.yml")
    result = target.trigger(REQUEST)  # type: ignore[attr-defined]
    assert result.outcome is Outcome.DELIVERED and result.status_code == 204
    httpserver.check_assertions()


def test_github_repository_dispatch(httpserver: HTTPServer) -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response("", status=204)

    httpserver.expect_oneshot_request(
        "/repos/acme/shop/dispatches", method="POST", headers={"Authorization": "Bearer s3cret-token"}
    ).respond_with_handler(handler)
    target = _target(httpserver, TargetKind.GITHUB_REPOSITORY, repo="acme/shop", event_type="slo-rollback")
    assert target.trigger(REQUEST).outcome is Outcome.DELIVERED  # type: ignore[attr-defined]
    body = json.loads(seen[0].data)
    assert body["event_type"] == "slo-rollback"
    assert body["client_payload"]["idempotency_key"] == "abc123key"
    assert body["client_payload"]["decision"]["to_version"] == "v1"
    assert seen[0].headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_gitlab_pipeline_trigger_sends_a_form_with_token_ref_and_variables(httpserver: HTTPServer) -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(json.dumps({"id": 42, "web_url": "http://gitlab/p/42"}), status=201)

    # the server decodes the path; the raw request line shows GitLab's URL-encoded "group/project" id
    httpserver.expect_oneshot_request("/api/v4/projects/ml/fraud/trigger/pipeline", method="POST").respond_with_handler(
        handler
    )
    target = _target(httpserver, TargetKind.GITLAB, secret="glptt-trigger-token", project="ml/fraud", ref="main")
    result = target.trigger(REQUEST)  # type: ignore[attr-defined]
    assert result.outcome is Outcome.DELIVERED and result.status_code == 201
    assert seen[0].environ["REQUEST_URI"] == "/api/v4/projects/ml%2Ffraud/trigger/pipeline"
    assert seen[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(seen[0].get_data(as_text=True)).items()}
    assert form["token"] == "glptt-trigger-token" and form["ref"] == "main"
    assert form["variables[ACTION]"] == "rollback"
    assert form["variables[IDEMPOTENCY_KEY]"] == "abc123key"
    assert json.loads(form["variables[SLO_PAYLOAD]"])["to_version"] == "v1"
    assert "42" in str(result.external_ref.get("body"))


def test_jenkins_build_with_parameters_uses_basic_auth_and_keeps_the_queue_location(httpserver: HTTPServer) -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response("", status=201, headers={"Location": "http://jenkins/queue/item/9/"})

    httpserver.expect_oneshot_request("/job/ml/job/rollback/buildWithParameters", method="POST").respond_with_handler(
        handler
    )
    target = _target(httpserver, TargetKind.JENKINS, secret="jenkins-api-token", job="ml/rollback")
    result = target.trigger(REQUEST)  # type: ignore[attr-defined]
    assert result.outcome is Outcome.DELIVERED
    assert result.external_ref["location"] == "http://jenkins/queue/item/9/"
    expected = "Basic " + base64.b64encode(b"bot:jenkins-api-token").decode()
    assert seen[0].headers["Authorization"] == expected
    form = {k: v[0] for k, v in parse_qs(seen[0].get_data(as_text=True)).items()}
    assert form["to_version"] == "v1" and form["idempotency_key"] == "abc123key"


def test_argo_workflows_submit(httpserver: HTTPServer) -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(json.dumps({"metadata": {"name": "rollback-x1"}}), status=200)

    httpserver.expect_oneshot_request(
        "/api/v1/workflows/ml/submit", method="POST", headers={"Authorization": "Bearer s3cret-token"}
    ).respond_with_handler(handler)
    target = _target(httpserver, TargetKind.ARGO, namespace="ml", template="rollback")
    assert target.trigger(REQUEST).outcome is Outcome.DELIVERED  # type: ignore[attr-defined]
    body = json.loads(seen[0].data)
    assert body["resourceKind"] == "WorkflowTemplate" and body["resourceName"] == "rollback"
    assert "to_version=v1" in body["submitOptions"]["parameters"]
    assert "idempotency_key=abc123key" in body["submitOptions"]["parameters"]


def test_kubernetes_scale_subresource_merge_patch(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(
        "/apis/apps/v1/namespaces/shop/deployments/checkout/scale",
        method="PATCH",
        headers={"Authorization": "Bearer s3cret-token", "Content-Type": "application/merge-patch+json"},
        json={"spec": {"replicas": 6}},
    ).respond_with_json({"kind": "Scale", "spec": {"replicas": 6}})
    target = _target(httpserver, TargetKind.KUBERNETES_SCALE, namespace="shop", deployment="checkout")
    request = TriggerRequest(8, "k8", "scale", "checkout", {"replicas": "6"})
    assert target.trigger(request).outcome is Outcome.DELIVERED  # type: ignore[attr-defined]
    httpserver.check_assertions()
    bad = target.trigger(TriggerRequest(9, "k9", "scale", "checkout", {"replicas": "many"}))  # type: ignore[attr-defined]
    assert bad.outcome is Outcome.FAILED and "replicas" in (bad.error or "")


def test_standard_webhook_signature_verifies_with_the_spec_algorithm(httpserver: HTTPServer) -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response("", status=200)

    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_handler(handler)
    config = TargetConfig("w", TargetKind.WEBHOOK, httpserver.url_for("/hook"), {}, secret)
    result = build_target(config, clock=lambda: 1_700_000_000).trigger(REQUEST)
    assert result.outcome is Outcome.DELIVERED
    request = seen[0]
    assert request.headers["webhook-id"] == "abc123key"
    assert request.headers["webhook-timestamp"] == "1700000000"
    signed = b"abc123key.1700000000." + request.get_data()
    expected = base64.b64encode(hmac.new(b"0123456789abcdef0123456789abcdef", signed, hashlib.sha256).digest())
    assert request.headers["webhook-signature"] == "v1," + expected.decode()
    assert json.loads(request.get_data())["type"] == "slo.action.rollback"


@pytest.mark.parametrize(
    ("status", "headers", "outcome"),
    [(429, {"Retry-After": "7"}, Outcome.RETRY), (503, {}, Outcome.RETRY), (422, {}, Outcome.FAILED)],
    ids=["throttled", "unavailable", "refused"],
)
def test_answers_map_to_retry_or_failed(
    httpserver: HTTPServer, status: int, headers: dict[str, str], outcome: Outcome
) -> None:
    httpserver.expect_oneshot_request("/repos/acme/shop/dispatches").respond_with_data(
        "no", status=status, headers=headers
    )
    result = _target(httpserver, TargetKind.GITHUB_REPOSITORY, repo="acme/shop").trigger(REQUEST)  # type: ignore[attr-defined]
    assert result.outcome is outcome
    if status == 429:
        assert result.retry_after is not None and result.retry_after.total_seconds() == 7


def test_an_unreachable_target_is_retried_and_the_token_never_appears_in_the_error() -> None:
    config = TargetConfig("t", TargetKind.ARGO, "http://127.0.0.1:9", {"namespace": "n", "template": "t"}, "tok-123456")
    result = build_target(config).trigger(REQUEST)
    assert result.outcome is Outcome.RETRY
    assert "tok-123456" not in repr(config) and "tok-123456" not in (result.error or "")
