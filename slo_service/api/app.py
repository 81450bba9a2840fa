"""The FastAPI application: routers, error handlers, /healthz, /readyz and /metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from slo_service import __version__
from slo_service.api import actions, alerts, deployments, gates, operations, slos, tokens
from slo_service.api import drift as drift_api
from slo_service.api.auth import ApiAuth, authorize, check_routes, document_rules
from slo_service.api.console import install_console
from slo_service.api.errors import install_error_handlers
from slo_service.api.limits import install_input_limits
from slo_service.core.leadership import Leadership
from slo_service.core.ports import StoreUnavailable
from slo_service.pipeline.alerting import AlertingService
from slo_service.pipeline.deployments import DeliveryPipeline
from slo_service.pipeline.drift import DriftService
from slo_service.pipeline.runtime import Runtime


def accepts_gzip(accept_encoding: str) -> bool:
    """True if an Accept-Encoding header allows gzip (q > 0), as Prometheus's scrapes send it."""
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().lower().removeprefix("q=")
            try:
                return not params.strip() or float(q) > 0
            except ValueError:
                return False
    return False


def create_app(
    runtime: Runtime,
    registry: CollectorRegistry,
    scheduler_running: Callable[[], bool] = lambda: True,
    alerting: AlertingService | None = None,
    slack_signing_secret: str | None = None,
    drift: DriftService | None = None,
    *,
    auth: ApiAuth,
    leadership: Leadership | None = None,
    pipeline: DeliveryPipeline | None = None,
    grafana_url: str | None = None,
) -> FastAPI:
    """Build the app around an already wired runtime; nothing is started here. Every route is guarded by
    `auth` (rules in api/auth.py); a route without a rule stops the build."""
    # FastAPIOffline serves Swagger UI's and ReDoc's scripts from its own package: /docs and /redoc
    # must work on a machine without internet (FastAPI's defaults load them from a CDN).
    app = FastAPIOffline(
        static_url="/static/api-docs",
        title="slo-service",
        version=__version__,
        description="SLOs, error budgets and burn rates for ML systems. Errors are JSON: {message, problems}. "
        "Send 'Authorization: Bearer TOKEN'; each operation's x-required-scope says what it needs.",
        dependencies=[Depends(authorize)],
    )
    app.state.auth = auth
    app.state.runtime = runtime
    app.state.alerting = alerting
    app.state.slack_signing_secret = slack_signing_secret
    app.state.drift = drift
    app.state.deployments = pipeline.deployments if pipeline else None
    app.state.gates = pipeline.gates if pipeline else None
    app.state.ci_secret = pipeline.ci_secret if pipeline else None
    install_error_handlers(app)
    install_input_limits(app)
    app.include_router(slos.router)
    app.include_router(operations.router)
    app.include_router(alerts.router)
    app.include_router(drift_api.router)
    app.include_router(tokens.router)
    app.include_router(actions.router)
    app.state.actions = None  # the ActionService, set by wiring when the process acts
    if pipeline is not None:
        app.include_router(deployments.router)
        app.include_router(gates.router)
    install_console(app, grafana_url)

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"], summary="Readiness: database reachable, config loaded, scheduler running")
    def readyz(request: Request) -> JSONResponse:
        rt: Runtime = request.app.state.runtime
        checks: dict[str, Any] = {}
        try:
            rt.store.ping()
            checks["database"] = "ok"
        except StoreUnavailable as exc:
            checks["database"] = f"unreachable: {exc.reason}"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["config"] = "ok" if rt.config.slos or rt.config.sources else "empty"
        checks["scheduler"] = "ok" if scheduler_running() else "stopped"
        ready = checks["database"] == "ok" and checks["scheduler"] == "ok"
        content: dict[str, Any] = {"ready": ready, "checks": checks, "config_hash": rt.config_hash}
        if leadership is not None:  # which replica this is and whether it leads (not a readiness condition)
            content["replica"] = leadership.replica
            content["leader"] = leadership.leader
        return JSONResponse(status_code=200 if ready else 503, content=content)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics of every SLO and of the service",
        response_class=PlainTextResponse,
    )
    def metrics(request: Request) -> Response:
        # the SLO families come from a cache built once per evaluation; the small rest is rendered live
        rest = generate_latest(registry)
        exposition = getattr(registry, "slo_exposition", None)
        gzip = accepts_gzip(request.headers.get("accept-encoding", ""))
        headers = {"Vary": "Accept-Encoding"}
        if exposition is None:
            return Response(rest, media_type=CONTENT_TYPE_LATEST, headers=headers)
        if gzip:
            headers["Content-Encoding"] = "gzip"
        return Response(exposition.body(rest, gzip), media_type=CONTENT_TYPE_LATEST, headers=headers)

    if auth.cors_origins:  # browsers may call the API only from origins named in SLO_SERVICE_CORS_ORIGINS
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(auth.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.state.route_rules = check_routes(app)
    document_rules(app, auth)
    return app
