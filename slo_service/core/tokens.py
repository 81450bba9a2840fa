"""API tokens: the format, scopes and what each implies, issuing, revoking and verifying.

A token is `slo_` + 43 URL-safe characters (32 random bytes). Only its SHA-256 is stored: the token is
random, not a password, so a slow salted hash would protect nothing more and would rule out finding a
token by an index on its hash. The store is a port (TokenStore); the SQL one lives in adapters/sql.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from slo_service.core.ports import StoreUnavailable

log = logging.getLogger(__name__)

TOKEN_PREFIX = "slo_"
TOKEN_BYTES = 32
MIN_ADMIN_TOKEN_LENGTH = 32
ADMIN_TOKEN_NAME = "admin-token-from-settings"
"""Who the bootstrap admin token (SLO_SERVICE_ADMIN_TOKEN[_FILE]) is in logs; it is never stored."""
TOUCH_EVERY = timedelta(minutes=1)
"""last_used_at is written at most this often per token, so a busy client costs no write per request."""
MAX_EXPIRES_IN = timedelta(days=3660)
"""The longest lifetime a token can be given (about ten years); no expiry at all is the default."""
KNOWN_FOR = timedelta(minutes=10)
"""While the token store is unavailable, a token the store accepted this recently is still accepted, so
reads that need no database (SLO status, sources, config, on-call) keep answering during an outage."""
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
NAME_RULE = "1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"


class Scope(StrEnum):
    """What a token may do. admin includes write, write includes read; ci (push data in) stands alone."""

    READ = "read"
    WRITE = "write"
    CI = "ci"
    ADMIN = "admin"


_IMPLIES: dict[Scope, frozenset[Scope]] = {
    Scope.READ: frozenset({Scope.READ}),
    Scope.WRITE: frozenset({Scope.WRITE, Scope.READ}),
    Scope.CI: frozenset({Scope.CI}),
    Scope.ADMIN: frozenset({Scope.ADMIN, Scope.WRITE, Scope.READ}),
}


def effective_scopes(granted: Iterable[Scope]) -> frozenset[Scope]:
    """The granted scopes plus everything they imply."""
    return frozenset().union(*(_IMPLIES[s] for s in granted))


def parse_scopes(values: Iterable[str]) -> tuple[Scope, ...]:
    """Scopes from repeated values and/or comma lists ("read,ci"), in canonical order; ValueError naming
    the bad one."""
    found: set[Scope] = set()
    for value in values:
        for part in value.split(","):
            text = part.strip().lower()
            if not text:
                continue
            try:
                found.add(Scope(text))
            except ValueError:
                raise ValueError(f"scope: {part.strip()!r} is not one of {', '.join(Scope)}") from None
    if not found:
        raise ValueError(f"scope: give at least one of {', '.join(Scope)}")
    return tuple(s for s in Scope if s in found)


def check_name(name: str) -> str:
    """A token name: NAME_RULE; ValueError naming the field otherwise."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ValueError(f"name: {name[:120]!r} must be {NAME_RULE}")
    return name


def new_token() -> str:
    """A fresh token: the recognisable prefix (secret scanners, logs) and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What is stored and looked up: the hex SHA-256 of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_admin_token(token: str) -> str:
    """A bootstrap admin token must be long enough to be unguessable; the message never repeats it."""
    token = token.strip()
    if len(token) < MIN_ADMIN_TOKEN_LENGTH:
        raise ValueError(
            f"at least {MIN_ADMIN_TOKEN_LENGTH} characters (it has {len(token)}); make one with `openssl rand -hex 32`"
        )
    return token


@dataclass(frozen=True)
class ApiToken:
    """A stored token: everything but the secret (`token_hash` is never shown)."""

    name: str
    scopes: tuple[Scope, ...]
    token_hash: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    """None: never expires."""

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


class TokenError(ValueError):
    """A refused token operation; the message names the field."""


class TokenExpired(Exception):
    """A presented token that was valid until `expires_at`: refused (401) with a message saying so."""

    def __init__(self, name: str, expires_at: datetime) -> None:
        super().__init__(
            f"token {name!r} expired at {expires_at:%Y-%m-%dT%H:%M:%SZ}: create a new one "
            "(`slo-service token create`) and revoke this one"
        )
        self.name = name
        self.expires_at = expires_at


def check_expires_in(value: timedelta | None) -> timedelta | None:
    """A token lifetime: above 0 and at most MAX_EXPIRES_IN; ValueError naming the field."""
    if value is not None and not timedelta(0) < value <= MAX_EXPIRES_IN:
        raise ValueError(f"expires_in: must be more than 0s and at most {MAX_EXPIRES_IN.days}d")
    return value


class TokenNameTaken(TokenError):
    """The name is in use (revoked tokens keep their name, so an audit trail never changes meaning)."""


class UnknownToken(TokenError):
    """No token with that name."""


class TokenStore(Protocol):
    """Where tokens live (their hashes, never the tokens)."""

    def add(self, token: ApiToken) -> None:
        """Store a new token; TokenNameTaken when the name exists."""
        ...

    def tokens(self) -> list[ApiToken]:
        """Every token, revoked ones included, oldest first."""
        ...

    def by_hash(self, digest: str) -> ApiToken | None: ...

    def revoke(self, name: str, at: datetime) -> bool:
        """Set revoked_at if the token exists and is not revoked yet; True if this call revoked it."""
        ...

    def touch(self, name: str, at: datetime) -> None:
        """Record a use."""
        ...


def issue(
    store: TokenStore, name: str, scopes: Iterable[str], now: datetime, expires_in: timedelta | None = None
) -> tuple[ApiToken, str]:
    """Create a token, valid for `expires_in` (None: until revoked); returns its record and the token
    itself, which nothing keeps."""
    checked, granted = check_name(name), parse_scopes(scopes)
    lifetime = check_expires_in(expires_in)
    token = new_token()
    expires_at = None if lifetime is None else now + lifetime
    record = ApiToken(checked, granted, token_hash(token), now, expires_at=expires_at)
    store.add(record)
    until = "" if expires_at is None else f", expires at {expires_at:%Y-%m-%dT%H:%M:%SZ}"
    log.info("API token %r created with scopes %s%s", record.name, ",".join(record.scopes), until)
    return record, token


def revoke(store: TokenStore, name: str, now: datetime) -> ApiToken:
    """Revoke a token by name; UnknownToken, or TokenError when it was revoked already."""
    if not store.revoke(name, now):
        found = next((t for t in store.tokens() if t.name == name), None)
        if found is None:
            raise UnknownToken(f"name: no token {name[:120]!r}")
        raise TokenError(f"name: token {name!r} was already revoked at {found.revoked_at}")
    log.info("API token %r revoked", name)
    return next(t for t in store.tokens() if t.name == name)


@dataclass(frozen=True)
class Principal:
    """Who sent a request, and what they may do (implied scopes included)."""

    name: str
    scopes: frozenset[Scope]

    def allowed(self, any_of: Collection[Scope]) -> bool:
        return bool(self.scopes & set(any_of))


class TokenVerifier:
    """Turns a presented token into a Principal, or None for an unknown or revoked one; TokenExpired for an
    expired one (so the client is told why).

    The bootstrap admin token (if any) is checked in memory; others by their hash in the store. While the
    store is unavailable, a token it accepted within KNOWN_FOR still counts; any other raises
    StoreUnavailable (the API answers 503, not 401). A token the store refuses is forgotten at once."""

    def __init__(self, store: TokenStore | None, admin_token: str | None, now: Callable[[], datetime]) -> None:
        self.store = store
        self._admin_hash = token_hash(check_admin_token(admin_token)) if admin_token else None
        self._now = now
        # hash -> (who, when the store said so, when it expires)
        self._accepted: dict[str, tuple[Principal, datetime, datetime | None]] = {}

    @property
    def has_admin_token(self) -> bool:
        return self._admin_hash is not None

    def verify(self, presented: str) -> Principal | None:
        digest = token_hash(presented)
        # compare_digest: the time taken says nothing about how much of the hash matched.
        if self._admin_hash is not None and hmac.compare_digest(digest, self._admin_hash):
            return Principal(ADMIN_TOKEN_NAME, effective_scopes([Scope.ADMIN]))
        if self.store is None or not presented.startswith(TOKEN_PREFIX):
            return None
        try:
            found = self.store.by_hash(digest)
        except StoreUnavailable:
            accepted = self._accepted.get(digest)
            if accepted is None or self._now() - accepted[1] >= KNOWN_FOR:
                raise
            principal, _, expires_at = accepted
            if expires_at is not None and self._now() >= expires_at:
                self._accepted.pop(digest, None)
                raise TokenExpired(principal.name, expires_at) from None
            return principal
        if found is None or not hmac.compare_digest(found.token_hash, digest) or found.revoked_at is not None:
            self._accepted.pop(digest, None)
            return None
        now = self._now()
        if found.expires_at is not None and found.expired(now):
            self._accepted.pop(digest, None)
            raise TokenExpired(found.name, found.expires_at)
        principal = Principal(found.name, effective_scopes(found.scopes))
        self._accepted[digest] = (principal, now, found.expires_at)
        if found.last_used_at is None or now - found.last_used_at >= TOUCH_EVERY:
            try:
                self.store.touch(found.name, now)
            except Exception as exc:  # a lost last_used_at must not refuse a valid request
                log.warning("could not record the use of token %r: %s", found.name, type(exc).__name__)
        return principal
