"""One test credential for every test: the bootstrap admin token that test services and clients share.

Tests that check authorisation itself build their own ApiAuth or send their own headers.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from slo_service.adapters.memory_deployments import InMemoryDeploymentStore
from slo_service.api.app import create_app
from slo_service.api.auth import ApiAuth
from slo_service.core.tokens import TokenStore, TokenVerifier
from slo_service.pipeline.deployments import DeliveryPipeline, DeploymentService
from slo_service.pipeline.gates import GateService, live_counts
from slo_service.pipeline.runtime import Runtime

ADMIN_TOKEN = "slo_tests-only-bootstrap-admin-token-0123456789"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def admin_auth(store: TokenStore | None = None, **options: Any) -> ApiAuth:
    """Authorisation that knows ADMIN_TOKEN (and the tokens of `store`, if given)."""
    return ApiAuth(TokenVerifier(store, ADMIN_TOKEN, lambda: datetime.now(UTC)), **options)


def memory_pipeline(runtime: Runtime, ci_secret: str | None = None) -> DeliveryPipeline:
    """Deployments, freezes and gates over in-memory stores, reading counts from the runtime's history."""
    store = InMemoryDeploymentStore()
    gates = GateService(store, live_counts(runtime.history), None, lambda: runtime.config, runtime.clock)
    return DeliveryPipeline(DeploymentService(store, runtime.clock), gates, ci_secret)


def make_app(*args: Any, **kwargs: Any) -> FastAPI:
    """create_app with ADMIN_TOKEN as the bootstrap admin token unless `auth` is given, and an in-memory
    delivery pipeline unless `pipeline` is given."""
    kwargs.setdefault("auth", admin_auth())
    runtime = kwargs["runtime"] if "runtime" in kwargs else args[0]
    kwargs.setdefault("pipeline", memory_pipeline(runtime))
    return create_app(*args, **kwargs)


def admin_client(app: FastAPI) -> TestClient:
    """A TestClient that sends ADMIN_TOKEN with every request."""
    return TestClient(app, headers=ADMIN_HEADERS)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI client subprocess: it sends ADMIN_TOKEN."""
    return {**os.environ, "SLO_SERVICE_TOKEN": ADMIN_TOKEN, **extra}
