"""Run SQL on a test database from outside the code under test (e.g. to break the schema on purpose)."""

from __future__ import annotations

from sqlalchemy import text

from slo_service.adapters.sql.engine import make_engine


def execute_sql(database_url: str, *statements: str) -> None:
    """Run `statements` in one transaction on a fresh engine, disposed afterwards."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()
