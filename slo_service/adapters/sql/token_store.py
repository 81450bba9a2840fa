"""API tokens in SQL; implements `slo_service.core.tokens.TokenStore`."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError

from slo_service.adapters.sql.base import SqlStoreBase
from slo_service.adapters.sql.token_models import ApiTokenRow
from slo_service.core.tokens import ApiToken, Scope, TokenNameTaken

_tokens: Table = ApiTokenRow.__table__  # type: ignore[assignment]


def _token(row: Any) -> ApiToken:
    columns = {f.name: getattr(row, f.name) for f in fields(ApiToken)}
    return ApiToken(**{**columns, "scopes": tuple(Scope(s) for s in row.scopes)})


class SqlTokenStore(SqlStoreBase):
    """Tokens by name and by hash; the schema must be at revision 0008 or later."""

    def add(self, token: ApiToken) -> None:
        row = {
            "name": token.name,
            "token_hash": token.token_hash,
            "scopes": [str(s) for s in token.scopes],
            "created_at": token.created_at,
            "expires_at": token.expires_at,
        }
        try:
            with self._write() as conn:
                conn.execute(_tokens.insert(), row)
        except IntegrityError:
            raise TokenNameTaken(f"name: a token named {token.name!r} exists (revoked names stay taken)") from None

    def tokens(self) -> list[ApiToken]:
        with self._read() as conn:
            rows = conn.execute(select(_tokens).order_by(_tokens.c.created_at, _tokens.c.id)).all()
        return [_token(r) for r in rows]

    def by_hash(self, digest: str) -> ApiToken | None:
        with self._read() as conn:
            row = conn.execute(select(_tokens).where(_tokens.c.token_hash == digest)).first()
        return None if row is None else _token(row)

    def revoke(self, name: str, at: datetime) -> bool:
        with self._write() as conn:
            result = conn.execute(
                update(_tokens).where(_tokens.c.name == name, _tokens.c.revoked_at.is_(None)).values(revoked_at=at)
            )
        return bool(result.rowcount)

    def touch(self, name: str, at: datetime) -> None:
        with self._write() as conn:
            conn.execute(update(_tokens).where(_tokens.c.name == name).values(last_used_at=at))
