"""One test credential for every test: the bootstrap admin token that test services and clients share.

Tests that check authorisation itself build their own ApiAuth or send their own headers.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from slo_service.api.app import create_app
from slo_service.api.auth import ApiAuth
from slo_service.core.tokens import TokenStore, TokenVerifier

ADMIN_TOKEN = "slo_tests-only-bootstrap-admin-token-0123456789"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def admin_auth(store: TokenStore | None = None, **options: Any) -> ApiAuth:
    """Authorisation that knows ADMIN_TOKEN (and the tokens of `store`, if given)."""
    return ApiAuth(TokenVerifier(store, ADMIN_TOKEN, lambda: datetime.now(UTC)), **options)


def make_app(*args: Any, **kwargs: Any) -> FastAPI:
    """create_app with ADMIN_TOKEN as the bootstrap admin token unless `auth` is given."""
    kwargs.setdefault("auth", admin_auth())
    return create_app(*args, **kwargs)


def admin_client(app: FastAPI) -> TestClient:
    """A TestClient that sends ADMIN_TOKEN with every request."""
    return TestClient(app, headers=ADMIN_HEADERS)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI client subprocess: it sends ADMIN_TOKEN."""
    return {**os.environ, "SLO_SERVICE_TOKEN": ADMIN_TOKEN, **extra}
