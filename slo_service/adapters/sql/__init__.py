"""SQL history store: SQLAlchemy 2 models, engine factory, store and Alembic migrations.

SQLite (file, WAL) is the default backend; PostgreSQL (psycopg 3) is supported for larger deployments.
"""

from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.core.ports import ScrapeStatus

__all__ = ["ScrapeStatus", "SqlHistoryStore", "make_engine"]
