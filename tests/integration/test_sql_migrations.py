"""Alembic migrations on SQLite and PostgreSQL: upgrade, no drift from the models, downgrade and back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from slo_service.adapters.sql import migrate
from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.models import Base
from tests.support.sql import execute_sql

HEAD_REVISION = "0014"
TABLES = {
    "action_decisions",
    "action_runs",
    "action_audit",
    "slo_slices",
    "ingest_keys",
    "scrape_health",
    "slo_evaluations",
    "alerts",
    "notification_outbox",
    "silences",
    "acknowledgements",
    "component_state",
    "drift_runs",
    "drift_columns",
    "drift_profiles",
    "drift_batches",
    "drift_slices",
    "counter_baselines",
    "slo_history_mark",
    "slo_matrix_checkpoints",
    "slo_matrix_checkpoint_parts",
    "api_tokens",
    "count_changes",
    "cluster_counters",
    "alert_actions",
    "deployments",
    "deploy_freezes",
    "ci_signatures",
    "quality_gates",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_models_and_migration_cover_the_same_tables() -> None:
    assert set(Base.metadata.tables) == TABLES


def test_upgrade_head_creates_schema_without_drift(db_url: str) -> None:
    assert migrate.current_revision(db_url) is None
    migrate.upgrade(db_url)
    assert migrate.current_revision(db_url) == HEAD_REVISION
    assert _tables(db_url) >= TABLES | {"alembic_version"}
    assert migrate.check_no_drift(db_url) == []


def test_upgrade_is_idempotent(db_url: str) -> None:
    migrate.upgrade(db_url)
    migrate.upgrade(db_url)
    assert migrate.current_revision(db_url) == HEAD_REVISION


def test_downgrade_base_then_upgrade_again(db_url: str) -> None:
    migrate.upgrade(db_url)
    migrate.downgrade(db_url, "base")
    assert migrate.current_revision(db_url) is None
    assert _tables(db_url) & TABLES == set()
    migrate.upgrade(db_url, "head")
    assert migrate.current_revision(db_url) == HEAD_REVISION
    assert migrate.check_no_drift(db_url) == []


def test_drift_check_notices_a_missing_index(db_url: str) -> None:
    migrate.upgrade(db_url)
    execute_sql(db_url, "DROP INDEX ix_slo_evaluations_at")
    diffs = migrate.check_no_drift(db_url)
    assert any(d[0] == "add_index" and d[1].name == "ix_slo_evaluations_at" for d in diffs), diffs


def test_sqlite_engine_settings(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 1000
    finally:
        engine.dispose()


def test_sqlite_parent_directory_is_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/deep/er/slo.db"
    migrate.upgrade(url)
    assert (tmp_path / "deep" / "er" / "slo.db").is_file()


def test_upgrade_works_from_any_cwd(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cwd.db"
    code = "import sys; from slo_service.adapters.sql import migrate; migrate.upgrade(sys.argv[1])"
    env = {**os.environ, "PYTHONPATH": str(Path(migrate.__file__).resolve().parents[3])}
    subprocess.run([sys.executable, "-c", code, url], cwd=tmp_path, env=env, check=True, timeout=120)
    assert migrate.current_revision(url) == HEAD_REVISION
