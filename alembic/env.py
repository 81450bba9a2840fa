"""Alembic environment for slo-service (SQLite and PostgreSQL)."""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from sqlalchemy.engine import Connection

from alembic import context
from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.models import Base, UtcDateTime

config = context.config
target_metadata = Base.metadata

# Only the alembic CLI (with alembic.ini) configures logging; programmatic runs keep the app's logging.
if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set sqlalchemy.url or pass -x url=...")
    return url


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render UtcDateTime as plain sa.DateTime(timezone=True): migrations must not import the models."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_item=_render_item,
        # SQLite cannot ALTER most things: let Alembic copy-and-move tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
