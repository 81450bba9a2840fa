"""The command line as users run it: validate, db upgrade, status, python -m."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from pytest_httpserver import HTTPServer

from tests.integration.test_service_process import Target, period, write_config
from tests.support.auth import cli_env
from tests.support.process import run_service, wait_for

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m slo_service ARGS` as a user runs it (with the test token and `env` added)."""
    return subprocess.run(
        [sys.executable, "-m", "slo_service", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=cli_env(**env),
    )


def test_validate_accepts_the_example_config() -> None:
    result = cli("validate", str(REPO / "examples" / "slo-service.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 SLOs" in result.stdout


def test_validate_says_what_each_tier_becomes_for_each_period() -> None:
    result = cli("validate", str(REPO / "examples" / "slo-service.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = {line.split(" (")[0].strip(): line for line in result.stdout.splitlines() if line.startswith("  ")}
    # 7 days: the windows shrink to a quarter, the thresholds stay above 1x
    assert "page-fast 15m/5m >13.4x" in lines["fraud-detector/latency"]
    assert "ticket-slow 18h/1h30m >1.12x" in lines["fraud-detector/latency"]
    # 30 days: the workbook's windows
    assert "page-fast 1h/5m >14.4x" in lines["fraud-detector/prediction-success"]
    # 5-minute slices: whole slices
    assert "page-fast 15m/5m" in lines["fraud-detector/feature-freshness"]


def test_validate_warns_about_a_tier_that_can_never_fire(tmp_path: Path) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(
        "apiVersion: slo-service/v1\n"
        "services: [{name: svc}]\n"
        "sources: [{name: p, type: push}]\n"
        "slos:\n"
        "  - {service: svc, name: a, objective: 90, period: 30d, sli: {ratio: {source: p, good: g, total: t}}}\n"
    )
    result = cli("validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    warning = " ".join(result.stderr.split())
    assert f"warning: {path}:5: alerting: burn-rate tier 'page-fast' can never fire for svc/a" in warning
    assert "page-fast 1h/5m >14.4x (never fires)" in result.stdout


def test_explain_alerts_prints_the_effective_tiers(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "slo_service", "explain-alerts", "fraud-detector/feature-freshness"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    by_tier = {c[0]: c for c in cells}
    assert by_tier["page-fast"][:5] == ["page-fast", "page", "15m", "5m", "> 13.4x"]
    assert by_tier["ticket-slow"][:5] == ["ticket-slow", "ticket", "18h", "1h30m", "> 1.12x"]
    assert ">= 0.5 of the short window's 1 slice with data" in by_tier["page-fast"][6]
    assert "SLONoData: no data for 30m" in result.stdout
    missing = cli("explain-alerts", "nope/nothing", cwd=REPO)
    assert missing.returncode == 1 and "no SLO 'nope/nothing'" in missing.stderr


def test_validate_prints_every_problem_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "slo.yaml"
    bad.write_text(
        "apiVersion: slo-service/v1\n"
        "services: [{name: svc}]\n"
        "sources: [{name: p, type: push}]\n"
        "slos:\n"
        "  - {service: svc, name: a, objective: 100, period: 7d, sli: {ratio: {source: p, good: g, total: t}}}\n"
        "  - {service: nope, name: b, objective: 99, period: 7d, sli: {ratio: {source: p, good: g, total: t}}}\n"
    )
    result = cli("validate", str(bad))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{bad}:5: slos[0].objective:") for line in lines), lines
    assert any(line.startswith(f"{bad}:6: slos[1].service:") and "nope" in line for line in lines), lines
    assert "Traceback" not in result.stderr


def test_validate_reports_yaml_syntax_errors_with_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("apiVersion: slo-service/v1\nslos:\n  - name: [unclosed\n")
    result = cli("validate", str(bad))
    assert result.returncode == 1
    assert f"{bad}:" in result.stdout and "(yaml)" in result.stdout


def test_db_upgrade_creates_the_schema_from_any_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    result = cli("db", "upgrade", "--database-url", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    tables = set(sa.inspect(sa.create_engine(url)).get_table_names())
    assert {"slo_slices", "ingest_keys", "scrape_health", "slo_evaluations", "alembic_version"} <= tables


def test_db_upgrade_names_the_revisions_it_applied(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    first = cli("db", "upgrade", "0002", "--database-url", url)
    assert first.returncode == 0, first.stderr
    assert "applied 2 migration(s): 0001, 0002" in first.stdout and "database at revision 0002" in first.stdout
    rest = cli("db", "upgrade", "--database-url", url)
    assert rest.returncode == 0, rest.stderr
    assert "applied " in rest.stdout and "0003, 0004" in rest.stdout and "0002," not in rest.stdout
    again = cli("db", "upgrade", "--database-url", url)
    assert "(nothing to apply)" in again.stdout and "applied" not in again.stdout


def test_status_prints_a_table_from_a_running_service(tmp_path: Path, httpserver: HTTPServer) -> None:
    target = Target(httpserver)
    target.serve(ok=10, errors=0, le_01=1, le_025=1, inf=1)
    config = write_config(tmp_path / "slo.yaml", target.url)
    with run_service([config], f"sqlite:///{tmp_path}/s.db", tmp_path) as svc:
        wait_for(lambda: (svc.get("/api/v1/sources").json()[0]["health"] or {}).get("up"), what="first scrape")
        target.serve(ok=108, errors=2, le_01=1, le_025=1, inf=1)
        wait_for(lambda: period(svc, "availability").get("total") == 100, what="events")
        result = cli("status", "--url", svc.url, "--wide")
        assert result.returncode == 0, result.stderr
        assert "availability" in result.stdout and "latency" in result.stdout
        assert "98.000%" in result.stdout  # the SLI over the period
        # the consumed and the remaining share of the budget, as the API reports them
        assert "loaded " in svc.log() and " history slices for " in svc.log()  # how much, how long
        budget = svc.get("/api/v1/slos/checkout-model/availability").json()["status"]["budget"]
        assert "budget used" in result.stdout and "budget left" in result.stdout
        assert f"{budget['consumed_ratio'] * 100:.1f}%" in result.stdout
        assert f"{budget['remaining_ratio'] * 100:.1f}%" in result.stdout
    result = cli("status", "--url", svc.url)
    assert result.returncode == 2
    assert "cannot reach the service" in result.stderr


def test_import_prints_sloth_specs_as_openslo_and_names_what_it_leaves_out() -> None:
    corpus = REPO / "tests" / "corpus" / "sloth"
    files = [corpus / n for n in ("prometheus.yaml", "k8s-getting-started.yml", "raw-home-wifi.yml")]
    result = cli("import", *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "name: checkout-k8s" in result.stdout and "kind: SLO" in result.stdout
    assert "not printed: SLO office-wifi/average-client-signal: error_ratio SLIs have no OpenSLO form" in result.stderr
    refused = cli("import", str(corpus / "prometheus.yaml"), str(corpus / "plugin-sli.yml"))
    assert refused.returncode != 0
    assert "SLI plugin 'acme_availability' is Sloth code" in refused.stdout + refused.stderr


def test_export_refuses_to_drop_parts_silently_and_round_trips_with_allow_lossy(tmp_path: Path) -> None:
    example = REPO / "examples" / "slo-service.yaml"
    out = tmp_path / "exported.yaml"
    refused = cli("export", "-c", str(example), "-o", str(out))
    assert refused.returncode == 1
    assert "not exported: alerting receivers: OpenSLO has no form for them" in refused.stderr
    assert "nothing written" in refused.stderr and not out.exists()
    written = cli("export", "-c", str(example), "-o", str(out), "--allow-lossy")
    assert written.returncode == 0, written.stderr
    checked = cli("validate", str(out))  # the export is a configuration of its own
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "5 SLOs" in checked.stdout
    again = cli("export", "-c", str(out))  # nothing of it is lossy (its alerts go where a section routes them)
    assert again.returncode == 0, again.stderr
    assert again.stderr == "" and again.stdout.count("kind: SLO\n") == 5
