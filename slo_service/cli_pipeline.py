"""CLI commands for pipelines: `slo-service deployment record` and `slo-service gate run`.

Both talk to a running service. They authenticate with a token (--token, SLO_SERVICE_TOKEN[_FILE]) or sign
each request with the CI secret (--secret, SLO_SERVICE_CI_SECRET[_FILE]; docs/api.md#signed-ci-requests).
`gate run` exits 0 on pass or warning, 1 on fail, 2 on inconclusive, 3 when --timeout passes while the gate
is still pending, 4 when the request itself fails (unreachable, refused, bad input).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from slo_service.settings import Settings, SettingsError

deployment_app = typer.Typer(help="Deployments: record one from CI.", no_args_is_help=True)
gate_app = typer.Typer(help="Quality gates: run one for a deployment and wait for its answer.", no_args_is_help=True)

EXIT_FOR = {"pass": 0, "warning": 0, "fail": 1, "inconclusive": 2}
EXIT_PENDING = 3
EXIT_ERROR = 4

UrlOpt = Annotated[str | None, typer.Option(help="base URL of the service (default: settings host and port)")]
TokenOpt = Annotated[
    str | None, typer.Option(help="API token (ci scope); default SLO_SERVICE_TOKEN or SLO_SERVICE_TOKEN_FILE")
]
SecretOpt = Annotated[
    str | None,
    typer.Option(help="sign requests with this CI secret instead of a token; default SLO_SERVICE_CI_SECRET[_FILE]"),
]


def register_pipeline_commands(app: typer.Typer) -> None:
    """Add `deployment` and `gate` to the main CLI."""
    app.add_typer(deployment_app, name="deployment")
    app.add_typer(gate_app, name="gate")


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(EXIT_ERROR)


class _Client:
    """Signed or token-authenticated calls to the service; any refusal or transport error exits 4."""

    def __init__(self, url: str | None, token: str | None, secret: str | None) -> None:
        try:
            settings = Settings()
            self.base = (url or f"http://{settings.host}:{settings.port}").rstrip("/")
            self.token = token or (None if secret else settings.client_token())
            self.secret = secret or (None if self.token else settings.ci_secret_value())
        except SettingsError as exc:
            raise _fail(str(exc)) from None
        if not self.token and not self.secret:
            raise _fail("give --token or --secret (or SLO_SERVICE_TOKEN / SLO_SERVICE_CI_SECRET)")

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> tuple[int, Any]:
        import httpx

        from slo_service.core.ci_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

        content = b"" if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        else:
            assert self.secret is not None
            stamp = str(int(time.time()))
            headers.update({TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(self.secret, stamp, content)})
        timeout = 30.0 + float(params.get("wait", 0))
        try:
            response = httpx.request(
                method, self.base + path, content=content, headers=headers, params=params, timeout=timeout
            )
        except httpx.HTTPError as exc:
            raise _fail(f"cannot reach {self.base}: {exc}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = {"message": response.text}
        if response.status_code >= 400:
            raise _fail(f"error {response.status_code}: {answer.get('message', answer)}")
        return response.status_code, answer


@deployment_app.command("record")
def record(
    service: Annotated[str, typer.Option(help="the service deployed")],
    version: Annotated[str, typer.Option(help="the version deployed")],
    environment: Annotated[str, typer.Option(help="where")] = "production",
    model_version: Annotated[str | None, typer.Option(help="the model version it serves")] = None,
    commit: Annotated[str | None, typer.Option(help="the commit deployed")] = None,
    pipeline_url: Annotated[str | None, typer.Option(help="the CI run's URL")] = None,
    at: Annotated[str | None, typer.Option("--time", help="when (RFC 3339 or Unix seconds); default now")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    secret: SecretOpt = None,
) -> None:
    """Record a deployment; prints its id (for `gate run --deployment-id`)."""
    body: dict[str, Any] = {"service": service, "version": version, "environment": environment}
    optional = {"model_version": model_version, "commit": commit, "pipeline_url": pipeline_url, "time": at}
    body.update({k: v for k, v in optional.items() if v is not None})
    _, answer = _Client(url, token, secret).call("POST", "/api/v1/deployments", body)
    typer.echo(answer["id"])


def _checks(spec: Path | None, objective: list[str], monitor: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if spec is not None:
        import yaml

        try:
            loaded = yaml.safe_load(spec.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise _fail(f"--spec: cannot read {spec}: {exc}") from None
        if not isinstance(loaded, dict):
            raise _fail(f"--spec: {spec} must hold a mapping (objectives, monitors, thresholds)")
        body.update(loaded)
    if objective:
        body["objectives"] = [*body.get("objectives", []), *objective]
    if monitor:
        body["monitors"] = [*body.get("monitors", []), *monitor]
    return body


@gate_app.command("run")
def run(
    deployment_id: Annotated[str | None, typer.Option(help="the deployment (from `deployment record`)")] = None,
    service: Annotated[str | None, typer.Option(help="instead of --deployment-id: service and version")] = None,
    version: Annotated[str | None, typer.Option(help="with --service")] = None,
    environment: Annotated[str | None, typer.Option(help="with --service and --version")] = None,
    duration: Annotated[str, typer.Option(help="verification window from the deploy time")] = "30m",
    objective: Annotated[list[str], typer.Option(help="an SLO to check (repeatable; default all)")] = [],  # noqa: B006
    monitor: Annotated[list[str], typer.Option(help="a drift monitor to check (repeatable)")] = [],  # noqa: B006
    spec: Annotated[Path | None, typer.Option(help="YAML/JSON with objectives, monitors, thresholds")] = None,
    wait: Annotated[bool, typer.Option(help="wait for the answer (else print the gate and exit)")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait at most")] = 3600.0,
    url: UrlOpt = None,
    token: TokenOpt = None,
    secret: SecretOpt = None,
) -> None:
    """Create a quality gate and (with --wait, the default) wait for it: exit 0 pass or warning, 1 fail,
    2 inconclusive, 3 still pending at --timeout, 4 on an error."""
    client = _Client(url, token, secret)
    body = _checks(spec, objective, monitor)
    body["duration"] = duration
    target = {"deployment_id": deployment_id, "service": service, "version": version, "environment": environment}
    body.update({k: v for k, v in target.items() if v is not None})
    _, gate = client.call("POST", "/api/v1/gates", body)
    deadline = time.monotonic() + timeout
    while wait and gate["result"] == "pending" and (left := deadline - time.monotonic()) > 0:
        _, gate = client.call("GET", f"/api/v1/gates/{gate['id']}", wait=round(min(left, 60.0), 1))
    json.dump(gate, sys.stdout, indent=2)
    sys.stdout.write("\n")
    summary = f"gate {gate['id']}: {gate['result']}"
    if gate.get("score") is not None:
        summary += f", score {gate['score'] * 100:.1f}%"
    typer.echo(summary + (f" ({gate['reason']})" if gate.get("reason") else ""), err=True)
    raise typer.Exit(EXIT_FOR.get(gate["result"], EXIT_PENDING))
