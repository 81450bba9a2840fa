"""Database fixtures for integration tests: a real SQLite file and an isolated PostgreSQL schema.

Use them like this::

    def test_something(db_url):            # runs twice: [sqlite] and [postgres]
        upgrade(db_url)                   # slo_service.adapters.sql.migrate
        engine = make_engine(db_url)      # slo_service.adapters.sql.make_engine
        ...

    def test_with_a_store(sql_store):     # migrated database + SqlHistoryStore, both backends
        sql_store.add_counts([...])

* ``sqlite_url`` -- ``sqlite:///<tmp_path>/slo.db`` (a new file per test).
* ``postgres_url`` -- the server at ``SLO_SERVICE_TEST_POSTGRES_URL`` (default
  ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) with a fresh schema per test, selected through
  ``?options=-csearch_path=<schema>`` in the URL itself, so any engine made from the URL is isolated (safe
  under pytest-xdist). The schema is dropped afterwards. If the server is unreachable the test is skipped,
  or fails when ``SLO_SERVICE_REQUIRE_ALL=1``.
* ``db_url`` -- parametrized over both (ids ``sqlite`` / ``postgres``; the latter carries the ``postgres``
  marker, so ``-m "not postgres"`` deselects it).
* ``migrated_db_url`` -- ``db_url`` after ``alembic upgrade head``.
* ``db_engine`` -- an Engine on ``migrated_db_url`` (disposed afterwards).
* ``sql_store`` -- a ``SqlHistoryStore`` on ``db_engine`` with a ``ManualClock`` (``sql_store_clock``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.migrate import upgrade
from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.core.clock import ManualClock
from tests.support.process import start_local_server

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CLOCK_START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

_postgres_unreachable: str | None = None
_postgres_checked = False


def postgres_base_url() -> str:
    return os.environ.get("SLO_SERVICE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _require_all() -> bool:
    return os.environ.get("SLO_SERVICE_REQUIRE_ALL", "") == "1"


def _admin_engine() -> Engine:
    return create_engine(postgres_base_url(), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})


def _skip_or_fail(reason: str) -> None:
    if _require_all():
        pytest.fail(f"{reason} (SLO_SERVICE_REQUIRE_ALL=1)")
    pytest.skip(reason)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file of its own (not created yet: make_engine/upgrade create it)."""
    return f"sqlite:///{tmp_path}/slo.db"


def _fresh_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema, dropped afterwards."""
    global _postgres_unreachable, _postgres_checked
    if _postgres_checked and _postgres_unreachable:
        _skip_or_fail(_postgres_unreachable)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = _admin_engine()
    try:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except OperationalError as exc:
            _postgres_checked = True
            _postgres_unreachable = f"PostgreSQL unreachable at {postgres_base_url()}: {exc.orig}"
            _skip_or_fail(_postgres_unreachable)
        _postgres_checked = True
        url = make_url(postgres_base_url()).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema, dropped after the test."""
    yield from _fresh_schema_url()


@pytest.fixture
def other_postgres_url() -> Iterator[str]:
    """A second fresh schema in the same database: another deployment beside `postgres_url`'s."""
    yield from _fresh_schema_url()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty, isolated database: a SQLite file, then a PostgreSQL schema."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def migrated_db_url(db_url: str) -> str:
    """`db_url` migrated to Alembic head."""
    upgrade(db_url)
    return db_url


@pytest.fixture
def db_engine(migrated_db_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sql_store_clock() -> ManualClock:
    """The clock `sql_store` stamps idempotency keys with (starts at CLOCK_START)."""
    return ManualClock(CLOCK_START)


@pytest.fixture
def sql_store(db_engine: Engine, sql_store_clock: ManualClock) -> SqlHistoryStore:
    """A SqlHistoryStore on a freshly migrated database (both backends)."""
    return SqlHistoryStore(db_engine, clock=sql_store_clock)


@pytest.fixture(scope="module")
def shared_server() -> Iterator[HTTPServer]:
    """One local HTTP server per module standing in for Slack, PagerDuty or a webhook consumer."""
    server = start_local_server()
    yield server
    server.stop()


@pytest.fixture
def server(shared_server: HTTPServer) -> Iterator[HTTPServer]:
    """The module's local server, cleared of expectations and logs for each test."""
    shared_server.clear()
    yield shared_server
    shared_server.clear()
