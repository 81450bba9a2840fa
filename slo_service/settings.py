"""Process settings from environment variables (SLO_SERVICE_*) and CLI flags; the SLO config lives in YAML."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from slo_service.core.durations import parse_duration

DEFAULT_DATABASE_URL = "sqlite:///var/slo-service.db"


class Settings(BaseSettings):
    """Everything the process needs besides the SLO definitions. Env prefix: SLO_SERVICE_."""

    model_config = SettingsConfigDict(env_prefix="SLO_SERVICE_", extra="ignore")

    database_url: str = Field(default=DEFAULT_DATABASE_URL, description="SQLAlchemy URL; SQLite file by default")
    config: list[str] = Field(
        default_factory=lambda: ["examples/slo-service.yaml"],
        description="YAML files or directories with SLO definitions",
    )
    host: str = "127.0.0.1"
    port: int = 8080
    evaluation_interval: timedelta = timedelta(seconds=15)
    compaction_interval: timedelta = timedelta(hours=1)
    snapshot_interval: timedelta = timedelta(minutes=5)
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
        default=1_000_000, description="increments buffered in memory while the database is unreachable"
    )
    export_labels: list[str] = Field(
        default_factory=lambda: ["team", "tier", "model", "model_version"],
        description="service/SLO labels copied onto every exported SLO series (empty when absent)",
    )
    slack_signing_secret: str | None = Field(
        default=None, description="verifies Slack button clicks (POST /api/v1/slack/interactions)"
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

    @field_validator(
        "evaluation_interval",
        "compaction_interval",
        "snapshot_interval",
        "raw_retention",
        "retention",
        "flush_interval",
        "delivery_lease",
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
