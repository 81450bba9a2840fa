"""Run the Alembic migrations programmatically, from any working directory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

import slo_service
from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.models import Base

log = logging.getLogger(__name__)

ALEMBIC_DIR = Path(slo_service.__file__).resolve().parent.parent / "alembic"


def alembic_config(url: str | URL) -> Config:
    """An Alembic Config for `url` that does not depend on the cwd or on alembic.ini."""
    if not (ALEMBIC_DIR / "env.py").is_file():
        raise FileNotFoundError(f"Alembic scripts not found at {ALEMBIC_DIR}")
    url_text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.set_main_option("sqlalchemy.url", url_text.replace("%", "%%"))  # ConfigParser interpolation
    return cfg


def _run(url: str | URL, fn: Any, *args: Any) -> None:
    cfg = alembic_config(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            fn(cfg, *args)
    finally:
        engine.dispose()


def upgrade(url: str | URL, revision: str = "head") -> list[str]:
    """Migrate the database at `url` up to `revision` (creating the schema on a new database). Returns the
    revisions applied, oldest first ([] when it was there already), and logs them."""
    before = current_revision(url)
    _run(url, command.upgrade, revision)
    after = current_revision(url)
    if after == before:
        return []
    script = ScriptDirectory.from_config(alembic_config(url))
    applied = [r.revision for r in script.iterate_revisions(after, before)][::-1]
    log.info("database migrated from %s to %s: applied %s", before or "an empty schema", after, ", ".join(applied))
    return applied


def downgrade(url: str | URL, revision: str) -> None:
    """Migrate the database at `url` down to `revision` ("base" drops every table)."""
    _run(url, command.downgrade, revision)


def current_revision(url: str | URL) -> str | None:
    """The revision the database is at, or None for an unmigrated database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def check_no_drift(url: str | URL) -> list[Any]:
    """Differences autogenerate finds between the models and the database at `url` ([] = in sync)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()
