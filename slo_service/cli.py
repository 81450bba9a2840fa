"""The `slo-service` command line: serve, demo, validate, db upgrade, token, status, alerts, silence."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from slo_service import __version__
from slo_service.cli_pipeline import register_pipeline_commands
from slo_service.core.secrets import redact
from slo_service.settings import Settings, SettingsError

if TYPE_CHECKING:  # the CLI imports what a command needs when it runs, to start fast
    from slo_service.adapters.sql.token_store import SqlTokenStore

app = typer.Typer(help="SLOs, error budgets and burn rates for ML systems.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
silence_app = typer.Typer(help="Silences of a running service: add, list, expire.", no_args_is_help=True)
app.add_typer(silence_app, name="silence")
token_app = typer.Typer(help="API tokens in the database: create, list, revoke.", no_args_is_help=True)
app.add_typer(token_app, name="token")
register_pipeline_commands(app)  # deployment, gate (cli_pipeline.py)
app.add_typer(__import__("slo_service.cli_actions", fromlist=["actions_app"]).actions_app, name="actions")
console = Console()
err_console = Console(stderr=True)
log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO_ROOT / "examples" / "slo-service.yaml"

ConfigOpt = Annotated[list[str] | None, typer.Option("--config", "-c", help="YAML file or directory (repeatable)")]
HostOpt = Annotated[str | None, typer.Option(help="address to listen on")]
PortOpt = Annotated[int | None, typer.Option(help="port to listen on")]
DbOpt = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL (default: SQLite file)")]


def _settings(config: list[str] | None, host: str | None, port: int | None, database_url: str | None) -> Settings:
    overrides: dict[str, Any] = {}
    if config:
        overrides["config"] = config
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if database_url:
        overrides["database_url"] = database_url
    try:
        settings = Settings(**overrides).resolved()
    except SettingsError as exc:
        err_console.print(f"setting refused: {exc}", style="bold red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    if settings.database_url.startswith("sqlite:///") and not settings.database_url.startswith("sqlite:////"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return settings


class _RedactingFormatter(logging.Formatter):
    """Masks every secret the process read (and URL passwords) in each line, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # One line per scrape and per job run (every executor: default, collect, drift) drowns what matters;
    # their warnings still show.
    for noisy in ("httpx", "apscheduler.executors", "apscheduler.scheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def _run(settings: Settings) -> None:
    """Serve at once; the service is built in the background as soon as the database answers (wiring.Starter),
    so /healthz answers and /readyz says why it is not ready while the database is down at start."""
    import uvicorn

    from slo_service.core.ports import StoreUnavailable
    from slo_service.specs.loader import ConfigError, load_config
    from slo_service.wiring import Starter, building, read_admin_token, take_sqlite_lock

    _setup_logging(settings.log_level)
    try:  # before waiting for any database: a bad file or setting is refused at once
        with building():
            config = load_config(list(settings.config))
        read_admin_token(settings)
        process_lock = take_sqlite_lock(settings.database_url)  # noqa: F841 - held while serving
    except ConfigError as exc:
        err_console.print("[bold red]config refused[/]: fix these problems and start again")
        for problem in exc.problems:  # plain lines: editors and CI parse file:line: field: message
            print(f"  {problem}", file=sys.stderr)
        raise typer.Exit(1) from None
    except SettingsError as exc:
        err_console.print(f"setting refused: {exc}", style="bold red", markup=False, highlight=False)
        raise typer.Exit(1) from None

    def stop_serving() -> None:
        server.should_exit = True

    starter = Starter(settings, config, on_failure=stop_serving)
    grace = settings.shutdown_grace.total_seconds()

    class Server(uvicorn.Server):
        stop_requested: float | None = None  # time.monotonic() of the first SIGTERM/SIGINT: the grace starts

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.stop_requested is None:
                self.stop_requested = time.monotonic()
            super().handle_exit(sig, frame)

    # lifespan off: the service's app is swapped in after the server started, its lifespan could not run. The
    # service stops after the server instead (below): open requests get a part of the grace, then jobs and
    # deliveries get what is left of it.
    server = Server(
        uvicorn.Config(
            starter.app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            lifespan="off",
            timeout_graceful_shutdown=max(1, int(grace / 4)),
        )
    )

    def reload() -> None:
        service = starter.service
        if service is None:
            log.warning("SIGHUP ignored: the service is still starting")
            return
        try:
            service.runtime.reload()
        except StoreUnavailable as exc:  # new SLOs load their history: the active config stays
            log.warning("config reload failed, the active config stays (send SIGHUP again): %s", exc)

    def on_sighup(_signum: int, _frame: object) -> None:
        threading.Thread(target=reload, name="sighup-reload", daemon=True).start()

    def on_stop_after_serving(_signum: int, _frame: object) -> None:
        # uvicorn handles SIGTERM/SIGINT while it serves, then restores these handlers and raises the signal
        # again: with the default handlers the process would die there, before the service stopped cleanly.
        pass

    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, on_sighup)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_stop_after_serving)
    starter.start()
    try:
        server.run()
    finally:
        service = starter.stop()
        if service is not None:
            service.close(deadline=(server.stop_requested or time.monotonic()) + grace)
    if starter.failed:
        raise typer.Exit(1)


@app.command()
def serve(config: ConfigOpt = None, host: HostOpt = None, port: PortOpt = None, database_url: DbOpt = None) -> None:
    """Run the service: API, /metrics and the scheduler, with migrations first."""
    _run(_settings(config, host, port, database_url))


@app.command()
def demo(
    config: ConfigOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
    database_url: DbOpt = None,
    demo_port: Annotated[int, typer.Option(help="port of the simulated model server")] = 9105,
    incident: Annotated[bool, typer.Option(help="start with an incident: errors and slow requests")] = False,
    alert_port: Annotated[int, typer.Option(help="port of the demo webhook that prints notifications")] = 9106,
) -> None:
    """Run the service together with a simulated model server that the example config scrapes."""
    from slo_service.demo.alert_sink import AlertSink
    from slo_service.demo.model_server import HEALTHY_ERROR_RATE, DemoModelServer

    settings = _settings(config or [str(EXAMPLE_CONFIG)], host, port, database_url)
    # The demo runs on 127.0.0.1 for one person: reads need no token (unless SLO_SERVICE_ANONYMOUS_READ
    # says otherwise), and actions take the demo's own admin token, kept in a file of the data directory.
    if "anonymous_read" not in settings.model_fields_set:
        settings.anonymous_read = True
    given = settings.admin_token.get_secret_value().strip() if settings.admin_token else ""
    if not given and settings.admin_token_file is None:
        settings.admin_token_file = demo_token_file(Path(settings.data_dir))
        console.print(
            f"demo admin token in {settings.admin_token_file}: "
            f"export SLO_SERVICE_TOKEN_FILE={settings.admin_token_file} (ack, silence)",
            highlight=False,
            soft_wrap=True,
        )
    # Every example SLO holds its objective with a margin until an incident is triggered.
    server = DemoModelServer(host="127.0.0.1", port=demo_port, error_rate=HEALTHY_ERROR_RATE)
    server.start()
    sink = AlertSink(alert_port)  # the example config's webhook receiver: each notification is one line here
    sink.start()
    console.print(f"demo model server on {server.url}/metrics (POST {server.url}/incident to start an incident)")
    console.print(f"demo alert receiver on http://127.0.0.1:{sink.port}/alerts (prints every notification)")
    if incident:
        server.trigger_incident()
    try:
        _run(settings)
    finally:
        server.stop()
        sink.stop()


def demo_token_file(data_dir: Path) -> Path:
    """The demo's admin token file (mode 0600), made once so it stays the same across restarts."""
    from slo_service.core.tokens import new_token

    path = data_dir / "demo-admin-token"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(new_token() + "\n")
    return path


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="YAML files or directories")]) -> None:
    """Check config files; print every problem as file:line: field: message (exit code 1 if any)."""
    from slo_service.specs.loader import load_config, validate_files

    problems = validate_files(files)
    if problems:
        for problem in problems:
            print(problem)
        err_console.print(f"[red]{len(problems)} problem(s)[/]")
        raise typer.Exit(1)
    config = load_config(files)
    for warning in config.warnings:
        err_console.print(f"[yellow]warning[/]: {warning}", highlight=False, soft_wrap=True)
    console.print(
        f"[green]OK[/]: {len(config.services)} services, {len(config.sources)} sources, {len(config.slos)} SLOs"
    )
    _print_tier_summary(config)


def _print_tier_summary(config: Any) -> None:
    """One line per SLO: what each burn-rate tier becomes for its period (explain-alerts has the detail)."""
    from slo_service.core.alerting.config import AlertingConfig
    from slo_service.core.alerting.explain import explain_tiers
    from slo_service.core.durations import format_duration

    alerting = config.alerting or AlertingConfig()
    for slo in config.slos:
        parts = [
            f"{e.tier.name} {e.tier.long_window_name}/{e.tier.short_window_name} >{e.tier.factor:.3g}x"
            + ("" if e.can_fire else " (never fires)")
            for e in explain_tiers(slo, alerting.policy_for(slo.key))
        ]
        period = format_duration(slo.period.nominal_length)
        console.print(
            f"  {slo.key} ({period}): {', '.join(parts) or 'no burn-rate tiers'}", highlight=False, soft_wrap=True
        )


@app.command("explain-alerts")
def explain_alerts(
    slo: Annotated[str | None, typer.Argument(help="SERVICE/SLO; all SLOs when left out")] = None,
    config: ConfigOpt = None,
) -> None:
    """What each burn-rate tier becomes for an SLO: windows, threshold, budget share, low-traffic guard."""
    from slo_service.core.alerting.conditions import slo_unit
    from slo_service.core.alerting.config import AlertingConfig
    from slo_service.core.alerting.explain import explain_table
    from slo_service.core.durations import format_duration

    cfg = _load_or_exit(config)
    slos = [s for s in cfg.slos if slo is None or s.key == slo]
    if not slos:
        err_console.print(f"[red]no SLO {slo!r}[/]; known: {', '.join(s.key for s in cfg.slos)}")
        raise typer.Exit(1)
    alerting = cfg.alerting or AlertingConfig()
    for s in slos:
        policy = alerting.policy_for(s.key)
        title = (
            f"{s.key}: objective {s.objective * 100:g}%, period {format_duration(s.period.nominal_length)}, "
            f"{s.budgeting.method.value}; fires when BOTH windows burn above the threshold"
        )
        table = Table(title=title, title_justify="left")
        rows = explain_table(s, policy)
        for column in ("tier", "severity", "long", "short", "threshold", "budget", "guard", "note"):
            table.add_column(column)
        for row in rows:
            table.add_row(*row.values())
        console.print(table)
        extra = []
        if policy.budget_exhausted:
            extra.append(
                f"SLOErrorBudgetExhausted: budget remaining < 0 once data covers "
                f"{policy.min_budget_coverage * 100:g}% of the period"
            )
        window = policy.no_data_window(slo_unit(s))
        if window is not None:
            extra.append(f"SLONoData: no data for {format_duration(window)}")
        for line in extra:
            console.print(f"  {line}", highlight=False)


@db_app.command("upgrade")
def db_upgrade(
    database_url: DbOpt = None, revision: Annotated[str, typer.Argument(help="target revision")] = "head"
) -> None:
    """Apply the Alembic migrations (the service also does this on start)."""
    from slo_service.adapters.sql.migrate import upgrade

    settings = _settings(None, None, None, database_url)
    upgrade(settings.database_url, revision)
    console.print(f"database at revision {revision}")


ScopeOpt = Annotated[
    list[str], typer.Option("--scope", "-s", help="read, write, ci or admin; repeatable or a comma list")
]


@contextmanager
def _token_store(database_url: str | None) -> Iterator[SqlTokenStore]:
    """The token table of the database the service uses (migrated first, as `serve` would)."""
    from slo_service.adapters.sql.engine import make_engine
    from slo_service.adapters.sql.migrate import upgrade
    from slo_service.adapters.sql.token_store import SqlTokenStore

    settings = _settings(None, None, None, database_url)
    if settings.run_migrations:
        upgrade(settings.database_url)
    store = SqlTokenStore(make_engine(settings.database_url))
    try:
        yield store
    finally:
        store.engine.dispose()


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", "-n", help="unique name, e.g. ci-prod")],
    scope: ScopeOpt,
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="lifetime, e.g. 90d or 12h; default: until revoked")
    ] = None,
    database_url: DbOpt = None,
) -> None:
    """Create a token and print it (stdout, once: only its hash is stored)."""
    from datetime import UTC, datetime

    from slo_service.core.durations import parse_duration
    from slo_service.core.tokens import issue

    def refuse(problem: str) -> typer.Exit:
        err_console.print(f"token refused: {problem}", style="red", markup=False, highlight=False)
        return typer.Exit(1)

    lifetime = None
    if expires_in is not None:
        try:
            lifetime = parse_duration(expires_in)
        except ValueError as exc:
            raise refuse(f"expires_in: {exc}") from None
    with _token_store(database_url) as store:
        try:
            record, token = issue(store, name, scope, datetime.now(UTC), lifetime)
        except ValueError as exc:  # TokenError included
            raise refuse(str(exc)) from None
    until = "" if record.expires_at is None else f", expires {_when(record.expires_at)} UTC"
    err_console.print(
        f"token {record.name!r} ({', '.join(record.scopes)}{until}): shown once, store it now", highlight=False
    )
    typer.echo(token)


@token_app.command("list")
def token_list(database_url: DbOpt = None) -> None:
    """A table of tokens: name, scopes, created, last used, revoked, expires (never the token)."""
    with _token_store(database_url) as store:
        items = store.tokens()
    table = Table(title="API tokens")
    for col in ("name", "scopes", "created", "last used", "revoked", "expires"):
        table.add_column(col, overflow="fold")
    for t in items:
        times = (t.created_at, t.last_used_at, t.revoked_at, t.expires_at)
        table.add_row(t.name, ",".join(t.scopes), *(_when(v) for v in times))
    out = console if console.is_terminal else Console(width=200)
    out.print(table if items else "no API tokens")


def _when(value: Any) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="the token's name")], database_url: DbOpt = None) -> None:
    """Revoke a token: every request with it is refused (401) from now on."""
    from datetime import UTC, datetime

    from slo_service.core.tokens import TokenError, revoke

    with _token_store(database_url) as store:
        try:
            revoke(store, name, datetime.now(UTC))
        except TokenError as exc:
            err_console.print(str(exc), style="red", markup=False, highlight=False)
            raise typer.Exit(1) from None
    typer.echo(f"revoked {name}")


@app.command()
def status(
    url: Annotated[str | None, typer.Option(help="base URL of a running service")] = None,
    service: Annotated[str | None, typer.Option(help="only this service")] = None,
) -> None:
    """A table of SLOs with budget remaining and burn rates, from a running service."""
    import httpx

    base = _base_url(url)
    params = {"service": service} if service else None
    try:
        response = httpx.get(f"{base}/api/v1/slos", params=params, headers=_auth_headers(), timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        code = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
        err_console.print(f"[red]cannot read {base}/api/v1/slos[/]: {exc}{_token_hint(code)}")
        raise typer.Exit(2) from None
    table = Table(title=f"SLOs at {base}")
    for col in (
        "service",
        "slo",
        "objective",
        "SLI (period)",
        "budget used",
        "budget left",
        "burn 1h",
        "burn 6h",
        "burn 1d",
    ):
        table.add_column(col, justify="left" if col in ("service", "slo") else "right")
    for item in response.json():
        st = item.get("status") or {}
        windows = st.get("windows", {})
        budget = st.get("budget") or {}
        remaining = budget.get("remaining_ratio")
        table.add_row(
            item["service"],
            item["slo"],
            f"{item['objective_percent']:g}%",
            _pct(st.get("sli")),
            _used(budget.get("consumed_ratio"), budget.get("period_consumed_ratio")),
            _budget(remaining),
            *(_burn((windows.get(w) or {}).get("burn_rate")) for w in ("1h", "6h", "1d")),
        )
    # Piped output (CI logs, grep) has no terminal width: do not wrap SLO names at 80 columns.
    out = console if console.is_terminal else Console(width=200)
    out.print(table)


def _pct(value: float | None) -> str:
    return "no data" if value is None else f"{value * 100:.3f}%"


def _budget(value: float | None) -> str:
    if value is None:
        return "[dim]no data[/]"
    colour = "green" if value > 0.5 else "yellow" if value > 0.1 else "red"
    return f"[{colour}]{value * 100:.1f}%[/]"


def _used(consumed: float | None, of_period: float | None) -> str:
    """Consumed share of the budget so far; timeslices add the share of the whole period's allowance."""
    if consumed is None:
        return "[dim]no data[/]"
    text = f"{consumed * 100:.1f}%"
    return text if of_period is None else f"{text} ({of_period * 100:.1f}% of period)"


def _burn(value: float | None) -> str:
    if value is None:
        return "[dim]-[/]"
    colour = "red" if value >= 6 else "yellow" if value >= 1 else "green"
    return f"[{colour}]{value:.2f}x[/]"


UrlOpt = Annotated[str | None, typer.Option(help="base URL of a running service (default: settings host and port)")]


def _base_url(url: str | None) -> str:
    if url:
        return url.rstrip("/")
    settings = Settings()
    return f"http://{settings.host}:{settings.port}"


def _auth_headers() -> dict[str, str]:
    """The Authorization header of CLI client commands: SLO_SERVICE_TOKEN or SLO_SERVICE_TOKEN_FILE."""
    try:
        token = Settings().client_token()
    except SettingsError as exc:
        err_console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    return {"Authorization": f"Bearer {token}"} if token else {}


def _token_hint(status_code: int | None) -> str:
    if status_code in (401, 403):
        return " (set SLO_SERVICE_TOKEN or SLO_SERVICE_TOKEN_FILE to a token with the scope it needs)"
    return ""


def _api(method: str, base: str, path: str, **kwargs: Any) -> Any:
    """Call the service's API; print the error message and exit 1 on an API error, exit 2 if unreachable."""
    import httpx

    try:
        response = httpx.request(method, f"{base}{path}", timeout=10, headers=_auth_headers(), **kwargs)
    except httpx.HTTPError as exc:
        err_console.print(f"[red]cannot reach {base}[/]: {exc}")
        raise typer.Exit(2) from None
    if response.is_error:
        try:
            message = response.json().get("message") or response.text
        except ValueError:
            message = response.text or response.reason_phrase
        err_console.print(f"[red]error {response.status_code}[/]: {message}{_token_hint(response.status_code)}")
        raise typer.Exit(1)
    return response.json()


@silence_app.command("add")
def silence_add(
    matcher: Annotated[
        list[str], typer.Option("--matcher", "-m", help='label matcher, e.g. slo="availability" (repeatable)')
    ],
    author: Annotated[str, typer.Option("--author", help="who creates the silence")],
    duration: Annotated[str, typer.Option(help="how long from now: 30m, 2h, 1d")] = "2h",
    comment: Annotated[str, typer.Option(help="why")] = "",
    url: UrlOpt = None,
) -> None:
    """Create a silence; prints its id."""
    base = _base_url(url)
    body = {"matchers": matcher, "duration": duration, "created_by": author, "comment": comment}
    created = _api("POST", base, "/api/v1/silences", json=body)
    typer.echo(created["id"])


@silence_app.command("list")
def silence_list(
    show_all: Annotated[bool, typer.Option("--all", help="include expired silences")] = False,
    url: UrlOpt = None,
) -> None:
    """A table of active and pending silences (with --all, expired ones too)."""
    base = _base_url(url)
    items = _api("GET", base, "/api/v1/silences")
    if not show_all:
        items = [s for s in items if s["state"] != "expired"]
    table = Table(title=f"silences at {base}")
    for col in ("id", "state", "matchers", "starts", "ends", "created by", "comment"):
        table.add_column(col, overflow="fold")
    for s in items:
        table.add_row(
            s["id"],
            s["state"],
            ", ".join(s["matchers"]),
            s["starts_at"],
            s["ends_at"],
            s["created_by"],
            s["comment"],
        )
    out = console if console.is_terminal else Console(width=250)
    out.print(table)


@silence_app.command("expire")
def silence_expire(
    silence_id: Annotated[str, typer.Argument(help="the silence id")],
    url: UrlOpt = None,
) -> None:
    """Expire a silence now."""
    base = _base_url(url)
    _api("DELETE", base, f"/api/v1/silences/{silence_id}")
    typer.echo(f"expired {silence_id}")


alerts_app = typer.Typer(
    help="Alerts of a running service: a table (no subcommand), or ack.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(alerts_app, name="alerts")
_FP_SHOWN = 12  # fingerprint characters in the table; `alerts ack` takes them (any unique prefix)


@alerts_app.callback()
def alerts_list(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(help="pending, firing or resolved; default all")] = None,
    service: Annotated[str | None, typer.Option(help="only this service")] = None,
    severity: Annotated[str | None, typer.Option(help="only this severity: page, ticket...")] = None,
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 50,
    url: UrlOpt = None,
) -> None:
    """A table of alert episodes, newest first: what fired, since when, how hard it burns, who acked it."""
    if ctx.invoked_subcommand is not None:
        return
    base = _base_url(url)
    params: dict[str, Any] = {"limit": limit}
    for key, value in (("state", state), ("service", service), ("severity", severity)):
        if value:
            params[key] = value
    items = _api("GET", base, "/api/v1/alerts", params=params)
    acked = _acked_by(_api("GET", base, "/api/v1/notifications/groups"))
    table = Table(title=f"alerts at {base}" + (f" ({state})" if state else ""))
    for col in ("fingerprint", "alert", "service/slo", "severity", "tier", "state", "since", "value", "acked by"):
        table.add_column(col, overflow="fold")
    for a in items:
        labels = a["labels"]
        # an SLO alert names its SLO; a target-down alert its target; a drift alert its monitor
        where = f"{labels.get('service', '')}/{labels['slo']}" if "slo" in labels else ""
        where = where or labels.get("target") or labels.get("monitor", "")
        table.add_row(
            a["fingerprint"][:_FP_SHOWN],
            labels.get("alertname", ""),
            where,
            labels.get("severity", ""),
            labels.get("burn_tier", ""),
            _state(a["state"]),
            _since(a),
            _alert_value(a.get("values") or {}),
            ", ".join(sorted(acked.get(a["fingerprint"], ()))) if a["state"] != "resolved" else "",
        )
    out = console if console.is_terminal else Console(width=250)
    if items:
        out.print(table)
    else:
        out.print(f"no alerts at {base}" + (f" in state {state}" if state else ""))


def _acked_by(groups: list[dict[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for g in groups:
        if g.get("acknowledged_by"):
            for fp in g.get("fingerprints") or ():
                out.setdefault(fp, set()).add(g["acknowledged_by"])
    return out


def _state(state: str) -> str:
    colour = {"firing": "red", "pending": "yellow", "resolved": "green"}.get(state, "white")
    return f"[{colour}]{state}[/]"


def _since(alert: dict[str, Any]) -> str:
    """When it entered its state (fired, pending, resolved), and for how long it has been there."""
    from datetime import datetime

    from slo_service.core.durations import format_duration

    state = alert["state"]
    raw = {"firing": alert.get("fired_at"), "resolved": alert.get("resolved_at")}.get(state) or alert["active_since"]
    at = datetime.fromisoformat(raw)
    text = at.strftime("%Y-%m-%d %H:%M:%S")
    if state != "resolved":
        held = datetime.fromisoformat(alert["last_evaluated_at"]) - at
        text += f" ({format_duration(held) if held.total_seconds() >= 1 else '0s'})"
    return text


def _alert_value(values: dict[str, Any]) -> str:
    """What made it fire, in the alert's own terms: a burn rate, the budget left, the silence."""
    if values.get("burn_rate_long") is not None:
        short = values.get("burn_rate_short")
        text = f"burn {values['burn_rate_long']:.2f}x" + (f" / {short:.2f}x" if short is not None else "")
        return text + (f" > {values['threshold']:.3g}x" if values.get("threshold") is not None else "")
    if values.get("budget_remaining") is not None and "budget_consumed" in values:
        return f"budget left {values['budget_remaining'] * 100:.1f}%"
    if values.get("no_data_for_seconds") is not None:
        return f"no data for {values['no_data_for_seconds']:.0f}s"
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(values.items())[:3])


@alerts_app.command("ack")
def alerts_ack(
    target: Annotated[str, typer.Argument(help="an alert fingerprint (or a unique prefix of it), or a group key")],
    by: Annotated[str, typer.Option("--by", help="who acknowledges")],
    url: UrlOpt = None,
) -> None:
    """Acknowledge an alert's notification groups: escalation stops, receivers get an acknowledge."""
    base = _base_url(url)
    groups = _api("GET", base, "/api/v1/notifications/groups")
    if any(g["group_key"] == target for g in groups):
        done = _api("POST", base, "/api/v1/notifications/groups/ack", json={"group_key": target, "by": by})
    else:
        alerts = _api("GET", base, "/api/v1/alerts", params={"limit": 10_000})
        matches = sorted({a["fingerprint"] for a in alerts if a["fingerprint"].startswith(target)})
        if len(matches) != 1:
            problem = "matches no alert" if not matches else f"matches {len(matches)} alerts: {', '.join(matches)}"
            err_console.print(f"[red]{target!r} {problem}[/]")
            raise typer.Exit(1)
        done = _api("POST", base, f"/api/v1/alerts/{matches[0]}/ack", json={"by": by})
    typer.echo(f"acknowledged by {done['by']}: {len(done['acknowledged_groups'])} group(s)")
    for key in done["acknowledged_groups"]:
        typer.echo(f"  {key}")


generate_app = typer.Typer(help="Generate Prometheus rules, Alertmanager config and Grafana dashboards.")
app.add_typer(generate_app, name="generate")

OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="file (or directory for dashboards); default stdout")]


def _load_or_exit(config: list[str] | None) -> Any:
    from slo_service.specs.loader import ConfigError, load_config

    try:
        return load_config(config or [str(EXAMPLE_CONFIG)])
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise typer.Exit(1) from None


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    err_console.print(f"wrote {out}")


@generate_app.command("prometheus-rules")
def generate_prometheus_rules(config: ConfigOpt = None, out: OutOpt = None) -> None:
    """Recording rules (Sloth-compatible names) and burn-rate alerts for every SLO of the config."""
    from slo_service.generate.prometheus_rules import dump_rules, prometheus_rules

    _write(dump_rules(prometheus_rules(_load_or_exit(config))), out)


@generate_app.command("self-rules")
def generate_self_rules(out: OutOpt = None) -> None:
    """Alert rules on the service itself (targets down, evaluation stalled, notifications failing...)."""
    from slo_service.generate.prometheus_rules import dump_rules
    from slo_service.generate.self_rules import self_alert_rules

    _write(dump_rules(self_alert_rules()), out)


@generate_app.command("alertmanager-config")
def generate_alertmanager_config(
    config: ConfigOpt = None,
    out: OutOpt = None,
    secrets_dir: Annotated[
        str, typer.Option(help="where Alertmanager reads secret files")
    ] = "/etc/alertmanager/secrets",
) -> None:
    """The config's routing tree, receivers, inhibition rules and time intervals for Alertmanager."""
    from slo_service.generate.alertmanager import alertmanager_config, dump_alertmanager

    _write(dump_alertmanager(alertmanager_config(_load_or_exit(config), secrets_dir)), out)


@generate_app.command("dashboards")
def generate_dashboards(
    out: Annotated[Path, typer.Option("--out", "-o", help="directory for the dashboard JSON files")] = Path(
        "dashboards"
    ),
) -> None:
    """Grafana dashboards (overview, detail, drift, service health, rules-only overview and detail) as JSON."""
    from slo_service.generate.dashboards import dashboards, dump_dashboard

    for name, board in dashboards().items():
        _write(dump_dashboard(board), out / name)


@app.command("export")
def export_command(
    config: ConfigOpt = None,
    out: OutOpt = None,
    allow_lossy: Annotated[
        bool, typer.Option("--allow-lossy", help="write the export even when parts of the config cannot be exported")
    ] = False,
) -> None:
    """Write the config as OpenSLO v1 documents that import back as the same config.

    What OpenSLO cannot hold is listed on stderr; then nothing is written and the exit code is 1, unless
    --allow-lossy."""
    from slo_service.specs.openslo_export import dump_openslo, export_openslo

    exported = export_openslo(_load_or_exit(config))
    for line in exported.lossy:
        err_console.print(f"not exported: {line}", markup=False, highlight=False, soft_wrap=True)
    if exported.lossy and not allow_lossy:
        err_console.print(
            f"{len(exported.lossy)} part(s) of the config cannot be exported; nothing written "
            "(--allow-lossy writes the rest)",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1)
    _write(dump_openslo(exported.docs), out)


@app.command("import")
def import_command(
    files: Annotated[list[Path], typer.Argument(help="OpenSLO v1 or Sloth (prometheus/v1, CRD) files")],
    out: OutOpt = None,
) -> None:
    """Check OpenSLO / Sloth files and print them as the OpenSLO the service will run (refusals named)."""
    from slo_service.specs.openslo_export import dump_openslo, export_openslo

    exported = export_openslo(_load_or_exit([str(f) for f in files]))
    _write(dump_openslo(exported.docs), out)
    for line in exported.lossy:
        err_console.print(f"not printed: {line}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app(prog_name="slo-service")


if __name__ == "__main__":
    main()
