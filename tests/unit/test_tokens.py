"""API token format, scopes and names (core/tokens.py, pure)."""

from __future__ import annotations

import hashlib
import re

import pytest

from slo_service.core.tokens import (
    Scope,
    check_admin_token,
    check_name,
    effective_scopes,
    new_token,
    parse_scopes,
    token_hash,
)


def test_a_token_is_the_prefix_and_256_random_bits_and_its_hash_is_sha256() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert re.fullmatch(r"slo_[A-Za-z0-9_-]{43}", token), token
        assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
        assert token not in token_hash(token)


def test_scopes_imply_downwards_only() -> None:
    assert effective_scopes([Scope.ADMIN]) == {Scope.ADMIN, Scope.WRITE, Scope.READ}
    assert effective_scopes([Scope.WRITE]) == {Scope.WRITE, Scope.READ}
    assert effective_scopes([Scope.READ]) == {Scope.READ}
    assert effective_scopes([Scope.CI]) == {Scope.CI}
    assert effective_scopes([Scope.CI, Scope.READ]) == {Scope.CI, Scope.READ}


@pytest.mark.parametrize(
    ("given", "scopes"),
    [
        (["read"], (Scope.READ,)),
        (["ci,read"], (Scope.READ, Scope.CI)),
        (["admin", " Write ", "read,,"], (Scope.READ, Scope.WRITE, Scope.ADMIN)),
    ],
)
def test_scopes_repeat_or_comma_list(given: list[str], scopes: tuple[Scope, ...]) -> None:
    assert parse_scopes(given) == scopes


@pytest.mark.parametrize(("given", "message"), [(["root"], "scope: 'root' is not one of"), ([" , "], "at least one")])
def test_bad_scopes_are_named(given: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_scopes(given)


@pytest.mark.parametrize("name", ["ci-prod", "grafana.read", "a", "Deploy_Bot-2"])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "-x", "has space", "x" * 101, "ci/prod", "名前"])
def test_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match=r"^name: "):
        check_name(name)


def test_a_short_bootstrap_admin_token_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError) as refused:
        check_admin_token("hunter2-hunter2")
    assert "hunter2" not in str(refused.value) and "32 characters" in str(refused.value)
    assert check_admin_token(" " + "x" * 32 + "\n") == "x" * 32
