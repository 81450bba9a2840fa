"""The files in alert_rules/ that users load as they are pass the real tools (make check-generated keeps
them equal to what the code generates)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.process import require_tool

ALERT_RULES = Path(__file__).resolve().parents[2] / "alert_rules"


@pytest.mark.parametrize("name", ["slo-rules.yml", "slo-service.rules.yml"])
def test_committed_rule_files_pass_promtool_check(name: str) -> None:
    promtool = require_tool("promtool")
    result = subprocess.run([promtool, "check", "rules", str(ALERT_RULES / name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_committed_alertmanager_config_passes_amtool() -> None:
    amtool = require_tool("amtool")
    result = subprocess.run(
        [amtool, "check-config", str(ALERT_RULES / "alertmanager.yml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
