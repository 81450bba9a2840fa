"""`amtool check-config` accepts the generated Alertmanager configuration."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slo_service.core.alerting.config import AlertingConfig
from slo_service.core.model import Config
from slo_service.core.routing.time_intervals import TimeInterval
from slo_service.generate.alertmanager import alertmanager_config, dump_alertmanager
from slo_service.specs import load_config

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "SLACK_BOT_TOKEN": "xoxb-secret-token",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/secret",
    "PD_ROUTING_KEY": "pd-secret-key",
    "WEBHOOK_SECRET": "hmac-secret",
}


@pytest.fixture
def amtool() -> str:
    path = shutil.which("amtool")
    if path is None:
        reason = "amtool not found (Debian: apt-get install prometheus-alertmanager)"
        if os.environ.get("SLO_SERVICE_REQUIRE_ALL") == "1":
            pytest.fail(f"{reason} and SLO_SERVICE_REQUIRE_ALL=1")
        pytest.skip(reason)
    return path


def _check(amtool: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("example", ["alerting-full.yaml", "slo-service.yaml"])
def test_examples_pass_amtool(example: str, amtool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = load_config([ROOT / "examples" / example])
    _check(amtool, dump_alertmanager(alertmanager_config(config, secrets_dir=str(tmp_path))), tmp_path)


def test_no_route_and_all_time_interval_fields_pass_amtool(amtool: str, tmp_path: Path) -> None:
    interval = TimeInterval(
        times=((0, 360), (1320, 1440)),
        weekdays=((0, 0), (2, 6)),
        days_of_month=((1, 5), (-3, -1)),
        months=((1, 3), (12, 12)),
        years=((2026, 2027),),
        location="America/New_York",
    )
    config = Config(services={}, sources={}, slos=(), alerting=AlertingConfig(time_intervals={"t": (interval,)}))
    _check(amtool, dump_alertmanager(alertmanager_config(config)), tmp_path)


@pytest.mark.parametrize("label", ["page", "critical", "ticket", "warning", "info", "unknown", ""])
def test_generated_pagerduty_severity_is_the_one_the_service_sends(label: str, amtool: str, tmp_path: Path) -> None:
    """Alertmanager's own template engine renders the generated severity template; the service's
    PagerDuty receiver must send the same severity for the same label (PagerDuty refuses "page")."""
    from slo_service.adapters.receivers.pagerduty import PagerDutyReceiver
    from slo_service.core.notify import OutboxMessage
    from slo_service.generate.alertmanager import PAGERDUTY_SEVERITY_TEMPLATE

    common = {"alertname": "SLOBurnRateHigh", **({"severity": label} if label else {})}
    data = {"receiver": "pd", "status": "firing", "alerts": [], "groupLabels": {}, "commonLabels": common}
    (tmp_path / "data.json").write_text(json.dumps({**data, "commonAnnotations": {}, "externalURL": "http://x"}))
    (tmp_path / "empty.tmpl").write_text("")
    rendered = subprocess.run(
        [
            amtool,
            "template",
            "render",
            f"--template.glob={tmp_path / 'empty.tmpl'}",
            f"--template.data={tmp_path / 'data.json'}",
            f"--template.text={PAGERDUTY_SEVERITY_TEMPLATE}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    message = OutboxMessage("pd", "trigger", "dk", {**data, "alerts": [{"labels": common}]}, datetime.now(UTC))
    sent = PagerDutyReceiver("pd", "routing-key").event(message)["payload"]["severity"]
    assert rendered == sent
    assert rendered in {"critical", "error", "warning", "info"}


OPENSLO = ROOT / "tests" / "corpus" / "openslo"
# (corpus files, alert labels): routes of OpenSLO notification targets, with and without an alerting section
OPENSLO_ALERTS = [
    (["checkout-availability.yaml"], {"service": "checkout", "slo": "checkout-availability", "burn_tier": "fast-burn"}),
    (["checkout-availability.yaml"], {"service": "checkout", "slo": "checkout-availability", "burn_tier": "slow-burn"}),
    (["checkout-availability.yaml"], {"service": "checkout", "slo": "checkout-availability", "burn_tier": "other"}),
    (["orders-section-target.yaml", "_alerting.yaml"], {"service": "orders", "slo": "orders-availability"}),
    (["orders-section-target.yaml", "_alerting.yaml"], {"service": "orders", "burn_tier": "orders-slow"}),
    (["orders-section-target.yaml", "_alerting.yaml"], {"slo": "orders-availability", "burn_tier": "orders-fast"}),
    (["payments-inline.yaml", "_alerting.yaml"], {"service": "payments", "slo": "payments-success"}),
]


@pytest.mark.parametrize("alertname", ["SLOBurnRateHigh", "SLONoData"])
@pytest.mark.parametrize(("files", "labels"), OPENSLO_ALERTS)
def test_openslo_routes_send_alerts_where_alertmanager_does(
    files: list[str],
    labels: dict[str, str],
    alertname: str,
    amtool: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service's routing of an alert and Alertmanager's, for the generated config, name the same receivers."""
    from slo_service.core.alerting.config import NO_RECEIVER
    from slo_service.core.routing.tree import RoutingTree
    from slo_service.generate.alertmanager import NULL_RECEIVER

    monkeypatch.setenv("CHECKOUT_PD_KEY", "pd-secret-key")
    config = load_config([OPENSLO / f for f in files])
    labels = {**labels, "alertname": alertname}
    path = tmp_path / "alertmanager.yml"
    path.write_text(dump_alertmanager(alertmanager_config(config, str(tmp_path))))
    _check(amtool, path.read_text(), tmp_path)
    args = [amtool, "config", "routes", "test", f"--config.file={path}", *(f"{k}={v}" for k, v in labels.items())]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert config.alerting is not None and config.alerting.route is not None
    ours = [r.receiver for r in RoutingTree(config.alerting.route).match(labels)]
    ours = [NULL_RECEIVER if r == NO_RECEIVER else r for r in ours]  # the generator names it "null"
    assert result.stdout.strip().split(",") == ours
