"""The leader lock and the count change log on the real PostgreSQL; SQLite refuses a second `serve`."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import text

from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.leader_lock import PostgresLeaderLock
from slo_service.adapters.sql.migrate import upgrade
from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.core.clock import ManualClock
from slo_service.core.ports import CountIncrement
from slo_service.pipeline.history import LiveHistory
from slo_service.pipeline.tail import ChangeTail
from tests.integration.test_service_process import write_config
from tests.support.process import free_port, run_service
from tests.support.sql import execute_sql
from tests.unit.test_pipeline import ratio_slo

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
KEY = ratio_slo().key


@pytest.mark.postgres
def test_the_advisory_lock_has_one_holder_and_is_free_once_its_session_ends(postgres_url: str) -> None:
    a_engine, b_engine = make_engine(postgres_url), make_engine(postgres_url)
    try:
        a, b = PostgresLeaderLock(a_engine), PostgresLeaderLock(b_engine)
        assert a.acquire() and a.confirm()
        assert not b.acquire() and not b.confirm()
        assert a.acquire()  # already ours
        # The server ends a's session (as when its process dies): the lock is free, and a knows it lost it.
        # Only a's: other tests' replicas may hold their own schema's lock in this database meanwhile.
        assert a._conn is not None
        a_pid = a._conn.execute(text("SELECT pg_backend_pid()")).scalar()
        execute_sql(postgres_url, f"SELECT pg_terminate_backend({int(a_pid)})")
        assert not a.confirm()
        assert b.acquire()
        assert not a.acquire()
        b.release()
        assert a.acquire()
        a.release()
    finally:
        a_engine.dispose()
        b_engine.dispose()


@pytest.mark.postgres
def test_deployments_in_two_schemas_of_one_database_each_have_a_leader(
    postgres_url: str, other_postgres_url: str
) -> None:
    """Advisory locks are per database: the lock is keyed by the schema, so one deployment's leader does not
    keep another's (a staging beside production, or two test runs) from leading."""
    engines = [make_engine(postgres_url), make_engine(postgres_url), make_engine(other_postgres_url)]
    try:
        here, here_too, there = (PostgresLeaderLock(e) for e in engines)
        assert here.acquire()
        assert not here_too.acquire()  # one leader per schema
        assert there.acquire()  # ... and the other schema has its own
        assert here.key != there.key
        here.release()
        there.release()
    finally:
        for e in engines:
            e.dispose()


@pytest.mark.postgres
def test_a_replica_applies_the_counts_another_replica_stored_exactly_once(postgres_url: str) -> None:
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        clock = ManualClock(T0)
        writer = SqlHistoryStore(engine, clock, replica="w")
        reader_store = SqlHistoryStore(engine, clock, replica="r")
        writer.add_counts([CountIncrement(KEY, T0 - timedelta(minutes=5), 9, 10)])  # before the reader loads
        reader = LiveHistory(reader_store, T0)
        reader.rebuild([ratio_slo()], T0)
        assert reader_store.last_load_position is not None
        tail = ChangeTail(reader_store, reader, "r", clock, reader_store.last_load_position)

        assert tail.poll() == 0  # the load already held it
        assert KEY not in reader.event_counts
        writer.add_counts([CountIncrement(KEY, T0 - timedelta(minutes=1), 1, 2)])
        reader_store.add_counts([CountIncrement(KEY, T0 - timedelta(minutes=1), 3, 3)])  # its own: applied on write
        assert tail.poll() == 1
        assert tail.poll() == 0
        assert reader.event_counts[KEY] == (1, 2)  # the writer's new minute, once; not the reader's own write
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM count_changes")).scalar() == 3
        clock.advance(timedelta(hours=2))
        assert reader_store.prune_changes((clock.now() - timedelta(hours=1)).timestamp()) == 3
    finally:
        engine.dispose()


def test_a_second_serve_on_one_sqlite_database_is_refused(
    sqlite_url: str, tmp_path: Path, httpserver: HTTPServer
) -> None:
    config = write_config(tmp_path / "slo.yaml", httpserver.url_for("/metrics"))
    with run_service([config], sqlite_url, tmp_path):
        port, config_arg = str(free_port()), str(config)
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "slo_service",
                "serve",
                "--port",
                port,
                "--database-url",
                sqlite_url,
                "-c",
                config_arg,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert second.returncode == 1
    assert "another slo-service serve" in second.stderr and "PostgreSQL" in second.stderr
