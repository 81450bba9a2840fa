"""API tokens over HTTP (admin scope): create (the token is in that answer only), list, revoke."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field, StringConstraints

from slo_service.api.auth import ApiAuth
from slo_service.api.inputs import PathName, duration_param
from slo_service.core import tokens as core_tokens
from slo_service.core.tokens import ApiToken, Scope, TokenNameTaken, TokenStore, UnknownToken
from slo_service.pipeline.runtime import Runtime

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


class TokenIn(BaseModel):
    name: Annotated[str, StringConstraints(pattern=core_tokens.NAME_PATTERN)] = Field(
        description=f"unique: {core_tokens.NAME_RULE}"
    )
    scopes: list[Scope] = Field(
        min_length=1, max_length=4, description="admin includes write, write includes read; ci is push only"
    )
    expires_in: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        default=None,
        description=f"lifetime, a duration such as 90d or 12h (at most {core_tokens.MAX_EXPIRES_IN.days}d); "
        "absent: valid until revoked",
        examples=["90d"],
    )


class TokenOut(BaseModel):
    name: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None = Field(description="to the minute")
    revoked_at: datetime | None
    expires_at: datetime | None = Field(description="refused (401) from then on; null: never expires")


class TokenCreated(TokenOut):
    token: str = Field(description="the token itself: shown in this answer only, only its hash is kept")


def token_out(token: ApiToken) -> TokenOut:
    """Only the fields TokenOut declares are copied: the hash never leaves the store."""
    return TokenOut(**{name: getattr(token, name) for name in TokenOut.model_fields})


def _now(request: Request) -> datetime:
    rt: Runtime = request.app.state.runtime
    return rt.clock.now()


def _store(request: Request) -> TokenStore:
    auth: ApiAuth = request.app.state.auth
    if auth.verifier.store is None:
        raise HTTPException(404, "API tokens are not stored by this service")
    return auth.verifier.store


@router.post("", response_model=TokenCreated, status_code=201, summary="Create a token; the answer holds it once")
async def create_token(request: Request, body: TokenIn) -> TokenCreated:
    store = _store(request)
    lifetime = None
    if body.expires_in is not None:
        lifetime = duration_param(body.expires_in, "expires_in", timedelta(minutes=1), core_tokens.MAX_EXPIRES_IN)
    try:
        record, token = await asyncio.to_thread(
            core_tokens.issue, store, body.name, body.scopes, _now(request), lifetime
        )
    except TokenNameTaken as exc:
        raise HTTPException(409, str(exc)) from None
    return TokenCreated(**token_out(record).model_dump(), token=token)


@router.get("", response_model=list[TokenOut], summary="Every token, revoked ones too; never the secret")
def list_tokens(request: Request) -> list[TokenOut]:
    return [token_out(t) for t in _store(request).tokens()]


@router.delete("/{name}", response_model=TokenOut, summary="Revoke a token: it is refused from now on")
def revoke_token(request: Request, name: PathName) -> TokenOut:
    try:
        return token_out(core_tokens.revoke(_store(request), name, _now(request)))
    except UnknownToken as exc:
        raise HTTPException(404, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
