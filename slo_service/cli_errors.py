"""What the command line says about a mistake a user can fix: one line on stderr and an exit code, no traceback.

`explain` is the one place that turns such an exception into a message; `slo-service --debug` shows the traceback
instead. Exit codes: 1 for refused input (a file, a setting, a port), 2 when something the command needs (the
database, a running service) cannot be reached.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

REFUSED = 1
UNREACHABLE = 2
DB_HINT = "fix --database-url or SLO_SERVICE_DATABASE_URL"


class CliError(Exception):
    """A user's mistake, already worded: what is wrong and how to fix it."""

    def __init__(self, message: str, code: int = REFUSED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def port_in_use(host: str, port: int, option: str) -> CliError:
    """The message for a port another process holds, naming the option that picks another."""
    return CliError(
        f"port {port} on {host} is already in use: choose another with {option} or stop the process that listens there"
    )


def check_port_free(host: str, port: int, option: str = "--port") -> None:
    """CliError if `host:port` cannot be bound now (checked before a server starts: uvicorn would only log it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OverflowError:  # SLO_SERVICE_PORT=99999: the option itself checks its range
            raise CliError(f"port {port} is out of range: choose one from 1 to 65535 with {option}") from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise port_in_use(host, port, option) from None
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}; check --host and {option}") from None


def check_database_url(url: str) -> None:
    """CliError unless SQLAlchemy understands `url` and its driver is installed (nothing is connected)."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        create_engine(url).dispose()
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise CliError(
            f"database URL not usable ({_first_line(exc)}): expected e.g. sqlite:////absolute/path.db or "
            f"postgresql+psycopg://user@host:5432/db; {DB_HINT}"
        ) from None


def explain(exc: BaseException, database: str = "") -> CliError | None:
    """The worded error for `exc` (or an exception it was raised from), None for a bug: then the traceback shows.
    `database` names the database the command used (host:port or file, never its password)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _explain_one(current, database)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _explain_one(exc: BaseException, database: str) -> CliError | None:
    import httpx
    import sqlalchemy.exc as sa_exc

    from slo_service.core.ports import StoreUnavailable

    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, StoreUnavailable):
        where = exc.where or database
        return CliError(
            f"cannot reach the database{f' at {where}' if where else ''}: {exc.reason}; {_db_fix(where)}", UNREACHABLE
        )
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        where = f" at {database}" if database else ""
        return CliError(
            f"cannot use the database{where}: {_first_line(exc.orig or exc)}; {_db_fix(database)}", UNREACHABLE
        )
    if isinstance(exc, sa_exc.ArgumentError | sa_exc.NoSuchModuleError):
        return CliError(f"database URL not usable ({_first_line(exc)}): {DB_HINT}")
    if isinstance(exc, httpx.HTTPError):
        url = _request_url(exc)
        return CliError(
            f"cannot reach the service{url}: {_first_line(exc) or type(exc).__name__}; is it running? "
            "(--url or SLO_SERVICE_HOST/SLO_SERVICE_PORT)",
            UNREACHABLE,
        )
    if isinstance(exc, OSError):
        if exc.errno == errno.EADDRINUSE:
            return CliError(f"{exc.strerror or 'address already in use'}: choose another port or stop that process")
        if exc.filename is not None:
            return CliError(
                f"cannot use {exc.filename}: {exc.strerror or exc}; check that it exists and that this user may "
                "read (and for data directories write) it"
            )
    return None


def _db_fix(where: str) -> str:
    """How to fix an unreachable database: a server is started, a SQLite file's directory made writable."""
    if where and ":" not in where:  # database_location() names a SQLite file by its path, a server by host:port
        return f"check that the directory of {where} exists and this user may write it, or {DB_HINT}"
    return f"start it or {DB_HINT}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _request_url(exc: Any) -> str:
    try:
        return f" at {exc.request.url}"
    except RuntimeError:  # no request attached
        return ""
