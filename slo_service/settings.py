"""Process settings from environment variables (SLO_SERVICE_*) and CLI flags; the SLO config lives in YAML."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from slo_service.core.durations import parse_duration
from slo_service.core.secrets import register_secret

DEFAULT_DATABASE_URL = "sqlite:///var/slo-service.db"


class Settings(BaseSettings):
    """Everything the process needs besides the SLO definitions. Env prefix: SLO_SERVICE_."""

    model_config = SettingsConfigDict(env_prefix="SLO_SERVICE_", extra="ignore")

    database_url: str = Field(default=DEFAULT_DATABASE_URL, description="SQLAlchemy URL; SQLite file by default")
    database_url_file: Path | None = Field(default=None, description="file holding the whole database URL")
    database_password: SecretStr | None = Field(
        default=None, description="the database password, put into the URL (which then must have none)"
    )
    database_password_file: Path | None = Field(default=None, description="file holding the database password")
    config: list[str] = Field(
        default_factory=lambda: ["examples/slo-service.yaml"],
        description="YAML files or directories with SLO definitions",
    )
    host: str = "127.0.0.1"
    port: int = 8080
    evaluation_interval: timedelta = timedelta(seconds=15)
    compaction_interval: timedelta = timedelta(hours=1)
    snapshot_interval: timedelta = timedelta(minutes=5)
    checkpoint_interval: timedelta = Field(
        default=timedelta(minutes=10),
        description="how often a compressed copy of the in-memory history is stored, so a restart reads only "
        "the slices written since (0 = never)",
    )
    raw_retention: timedelta = Field(
        default=timedelta(days=8), description="1-minute slices older than this are rolled up into hourly slices"
    )
    retention: timedelta = Field(default=timedelta(days=400), description="all history older than this is deleted")
    max_body_bytes: int = Field(
        default=1 << 20, ge=1024, description="largest request body of the JSON API (ingest, silences, webhooks)"
    )
    max_batch_body_bytes: int = Field(
        default=64 << 20, ge=1024, description="largest drift batch body (POST /api/v1/monitors/{name}/batches)"
    )
    pending_write_limit: int = Field(
        default=1_000_000,
        ge=1,
        description="increments buffered (in memory and in the spill directory) while the database is unreachable",
    )
    spill_dir: str | None = Field(
        default=None,
        description="where increments buffered during a database outage are kept on disk, so a SIGKILL loses "
        "none (default: DATA_DIR/spill); one per process",
    )
    shutdown_grace: timedelta = Field(
        default=timedelta(seconds=20),
        description="on SIGTERM, how long running jobs and deliveries may take before they are handed back "
        "(below Kubernetes' default terminationGracePeriodSeconds of 30 s)",
    )
    export_labels: list[str] = Field(
        default_factory=lambda: ["team", "tier", "model", "model_version"],
        description="service/SLO labels copied onto every exported SLO series (empty when absent)",
    )
    export_windows: dict[str, list[str]] = Field(
        default_factory=dict,
        description='windows exported per family, e.g. {"sli": ["1h", "period"], "burn_rate": ["5m", "1h"], '
        '"coverage": ["all"]}; a family left out keeps its default (docs/configuration.md)',
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, description="verifies Slack button clicks (POST /api/v1/slack/interactions)"
    )
    slack_signing_secret_file: Path | None = Field(default=None, description="file holding the Slack signing secret")
    ci_secret: SecretStr | None = Field(
        default=None,
        description="shared secret of signed CI requests (X-Hub-Signature-256 over '{timestamp}.{body}', "
        "docs/pipelines.md); unset: CI sends a token with the ci scope",
    )
    ci_secret_file: Path | None = Field(default=None, description="file holding the CI signing secret")
    budget_freeze: bool = Field(
        default=False,
        description="an exhausted error budget of any SLO of a service freezes its deploys (deploy-allowed "
        "answers 423) until every budget of the service has recovered",
    )
    flush_interval: timedelta = Field(
        default=timedelta(seconds=2), description="how often due notification groups and retries are sent"
    )
    delivery_lease: timedelta = Field(
        default=timedelta(seconds=30),
        description="how long a replica holds a notification it is delivering; must exceed twice the longest "
        "receiver timeout (a Slack retry may look the message up before posting it)",
    )
    data_dir: str = Field(
        default="var", description="pushed drift batches and Evidently HTML reports are kept under this directory"
    )
    drift_workers: int = Field(default=1, description="worker processes that run Evidently (never the API process)")
    run_migrations: bool = True
    log_level: str = "INFO"
    anonymous_read: bool = Field(
        default=False, description="read endpoints answer without a token (`slo-service demo` turns this on)"
    )
    grafana_url: str | None = Field(
        default=None,
        description="base URL of the Grafana holding the generated dashboards: the console's SLO pages link there",
    )
    metrics_auth: bool = Field(default=False, description="GET /metrics needs a token with the read scope")
    admin_token: SecretStr | None = Field(
        default=None, description="bootstrap admin token (at least 32 characters), kept in memory only"
    )
    admin_token_file: Path | None = Field(default=None, description="file holding the bootstrap admin token")
    token: SecretStr | None = Field(
        default=None, description="the token CLI client commands (status, alerts, silence) send"
    )
    token_file: Path | None = Field(default=None, description="file holding the token CLI client commands send")
    cors_origins: list[str] = Field(
        default_factory=list, description="browser origins allowed to call the API (CORS); none by default"
    )
    replica_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        min_length=1,
        max_length=200,
        description="names this process among the replicas on one PostgreSQL (logs, /readyz, slo_service_leader)",
    )
    leader_retry: timedelta | None = Field(
        default=None,
        description="how often a replica that does not lead tries to take the leader lock (default: half the "
        "evaluation interval, so a dead leader's work is taken over within two evaluation intervals)",
    )
    change_log_retention: timedelta = Field(
        default=timedelta(hours=1),
        description="how long the count change log the replicas tail is kept (PostgreSQL)",
    )

    def leader_retry_interval(self) -> timedelta:
        """`leader_retry`, or half the evaluation interval."""
        return self.leader_retry or self.evaluation_interval / 2

    def spill_path(self) -> Path:
        return Path(self.spill_dir) if self.spill_dir else Path(self.data_dir) / "spill"

    def admin_token_value(self) -> str | None:
        """The bootstrap admin token from SLO_SERVICE_ADMIN_TOKEN or SLO_SERVICE_ADMIN_TOKEN_FILE."""
        return read_secret(self.admin_token, self.admin_token_file, "SLO_SERVICE_ADMIN_TOKEN")

    def slack_signing_secret_value(self) -> str | None:
        """From SLO_SERVICE_SLACK_SIGNING_SECRET or SLO_SERVICE_SLACK_SIGNING_SECRET_FILE."""
        return read_secret(
            self.slack_signing_secret, self.slack_signing_secret_file, "SLO_SERVICE_SLACK_SIGNING_SECRET"
        )

    def ci_secret_value(self) -> str | None:
        """From SLO_SERVICE_CI_SECRET or SLO_SERVICE_CI_SECRET_FILE."""
        return read_secret(self.ci_secret, self.ci_secret_file, "SLO_SERVICE_CI_SECRET")

    def resolved(self) -> Settings:
        """These settings with the database URL put together from SLO_SERVICE_DATABASE_URL_FILE and
        SLO_SERVICE_DATABASE_PASSWORD[_FILE], and its password registered for masking. SettingsError (never
        holding a secret) for a conflict or an unreadable file."""
        from sqlalchemy.engine import make_url  # settings are read by CLI commands that never touch SQL

        url = self.database_url
        if self.database_url_file is not None:
            if "database_url" in self.model_fields_set:
                raise SettingsError("SLO_SERVICE_DATABASE_URL and SLO_SERVICE_DATABASE_URL_FILE are both set: give one")
            url = read_secret(None, self.database_url_file, "SLO_SERVICE_DATABASE_URL") or url
        password = read_secret(self.database_password, self.database_password_file, "SLO_SERVICE_DATABASE_PASSWORD")
        try:
            parsed = make_url(url)
        except Exception:  # the message would quote the URL
            raise SettingsError(
                "SLO_SERVICE_DATABASE_URL: not a SQLAlchemy URL (e.g. postgresql+psycopg://...)"
            ) from None
        if password is not None:
            if parsed.password is not None:
                raise SettingsError(
                    "SLO_SERVICE_DATABASE_PASSWORD: the database URL has a password already: give it in one place"
                )
            parsed = parsed.set(password=password)
            url = parsed.render_as_string(hide_password=False)
        register_secret(None if parsed.password is None else str(parsed.password))
        register_secret(self.slack_signing_secret_value())
        register_secret(self.admin_token_value())
        register_secret(self.ci_secret_value())
        return self.model_copy(
            update={
                "database_url": url,
                "database_url_file": None,
                "database_password": None,
                "database_password_file": None,
            }
        )

    def client_token(self) -> str | None:
        """The token CLI client commands send, from SLO_SERVICE_TOKEN or SLO_SERVICE_TOKEN_FILE."""
        return read_secret(self.token, self.token_file, "SLO_SERVICE_TOKEN")

    @field_validator("export_windows")
    @classmethod
    def _export_windows(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from slo_service.exporter.exposition import ExportWindows

        ExportWindows.parse(value)  # unknown families are refused at start, not at the first scrape
        return value

    @field_validator(
        "evaluation_interval",
        "compaction_interval",
        "snapshot_interval",
        "checkpoint_interval",
        "raw_retention",
        "retention",
        "flush_interval",
        "delivery_lease",
        "leader_retry",
        "change_log_retention",
        "shutdown_grace",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: Any) -> Any:
        # Accept the config file's duration strings ("15s", "8d") and plain seconds ("15") from the env.
        if isinstance(value, str):
            text = value.strip()
            try:
                return timedelta(seconds=float(text))
            except ValueError:
                pass
            if text and text[-1] in "smhdwy":
                return parse_duration(text)
        return value


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable and never holds a secret."""


def read_secret(value: SecretStr | None, file: Path | None, variable: str) -> str | None:
    """A secret given as `variable` or as a file named by `variable`_FILE (Docker and Kubernetes secrets).

    Surrounding whitespace (the file's trailing newline) is dropped and an empty `variable` counts as unset;
    both set, or an unreadable or empty file, is a SettingsError."""
    direct = value.get_secret_value().strip() if value is not None else ""
    if direct and file is not None:
        raise SettingsError(f"{variable} and {variable}_FILE are both set: give one")
    if file is None:
        return direct or None
    try:
        text = file.read_text().strip()
    except OSError as exc:
        raise SettingsError(f"{variable}_FILE: cannot read {file}: {exc.strerror or exc}") from None
    if not text:
        raise SettingsError(f"{variable}_FILE: {file} is empty")
    return text
