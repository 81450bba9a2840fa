"""API tokens with a lifetime: given by the API (`expires_in`) or the CLI (`--expires-in`), listed with their
expiry, refused once expired with a 401 saying so, also by a process that accepted them during an outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slo_service.core.clock import ManualClock
from slo_service.core.tokens import KNOWN_FOR, Scope, TokenExpired, TokenVerifier, issue
from tests.integration.test_auth import build_world
from tests.integration.test_auth_process import slo_cli
from tests.support.auth import ADMIN_TOKEN


def test_a_token_with_expires_in_works_until_then_and_is_refused_after_saying_why(db_url: str, tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    with build_world(db_url, tmp_path, clock) as w:
        created = w.call(
            "POST", "/api/v1/tokens", ADMIN_TOKEN, json={"name": "ci-90d", "scopes": ["read"], "expires_in": "90d"}
        )
        assert created.status_code == 201, created.text
        body = created.json()
        token = body["token"]
        assert body["expires_at"] == "2027-03-07T12:00:00Z"
        listed = {t["name"]: t for t in w.call("GET", "/api/v1/tokens", ADMIN_TOKEN).json()}
        assert listed["ci-90d"]["expires_at"] == "2027-03-07T12:00:00Z"
        assert listed[f"only-{Scope.READ}"]["expires_at"] is None  # no lifetime: never expires

        clock.advance(timedelta(days=90) - timedelta(seconds=1))
        assert w.call("GET", "/api/v1/slos", token).status_code == 200
        clock.advance(timedelta(seconds=1))
        refused = w.call("GET", "/api/v1/slos", token)
        assert refused.status_code == 401
        assert refused.json()["message"].startswith("token 'ci-90d' expired at 2027-03-07T12:00:00Z: create a new one")
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        assert token not in refused.text
        assert w.call("GET", "/api/v1/slos", w.tokens[Scope.READ]).status_code == 200

        for bad, problem in (
            ("0s", "expires_in: duration '0s' must be positive"),
            ("soon", "expires_in: "),
            ("100y", "expires_in: '100y' is not between 1m and"),
        ):
            r = w.call("POST", "/api/v1/tokens", ADMIN_TOKEN, json={"name": "x", "scopes": ["read"], "expires_in": bad})
            assert r.status_code == 422 and r.json()["message"].startswith(problem), r.text


class _OutageStore:
    """A token store that is up until `down` is set (the verifier's outage memory is what is tested)."""

    def __init__(self) -> None:
        self.items: dict[str, object] = {}
        self.down = False

    def add(self, token: object) -> None:
        self.items[token.token_hash] = token  # type: ignore[attr-defined]

    def tokens(self) -> list[object]:
        return list(self.items.values())

    def by_hash(self, digest: str) -> object:
        from slo_service.core.ports import StoreUnavailable

        if self.down:
            raise StoreUnavailable("down")
        return self.items.get(digest)

    def revoke(self, name: str, at: datetime) -> bool:
        return False

    def touch(self, name: str, at: datetime) -> None:
        pass


def test_a_token_accepted_before_an_outage_still_expires_during_it() -> None:
    clock = ManualClock(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    store = _OutageStore()
    _, token = issue(store, "short", ["read"], clock.now(), timedelta(minutes=5))  # type: ignore[arg-type]
    verifier = TokenVerifier(store, None, clock.now)  # type: ignore[arg-type]
    assert verifier.verify(token) is not None
    store.down = True
    clock.advance(timedelta(minutes=4))
    assert verifier.verify(token) is not None  # remembered for KNOWN_FOR, and not expired yet
    assert timedelta(minutes=5) < KNOWN_FOR
    clock.advance(timedelta(minutes=1))
    with pytest.raises(TokenExpired, match="token 'short' expired at 2026-12-07T12:05:00Z"):
        verifier.verify(token)


def test_cli_creates_a_token_with_expires_in_and_lists_its_expiry(sqlite_url: str) -> None:
    made = slo_cli(
        "token", "create", "--name", "ci-q1", "--scope", "ci", "--expires-in", "90d", "--database-url", sqlite_url
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().startswith("slo_")
    assert "expires " in made.stderr and "shown once" in made.stderr
    expected = (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%d")
    listed = slo_cli("token", "list", "--database-url", sqlite_url)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "ci-q1" in line)
    assert "expires" in listed.stdout and expected in row, listed.stdout
    bad = slo_cli(
        "token", "create", "--name", "x", "--scope", "ci", "--expires-in", "forever", "--database-url", sqlite_url
    )
    assert bad.returncode == 1 and "token refused: expires_in:" in bad.stderr
