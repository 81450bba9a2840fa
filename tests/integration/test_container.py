"""The container files hold: the Dockerfile installs dependencies before the code, pins its base image and runs
as a user that cannot change the code; compose.yaml is valid for Docker Compose and mounts files that exist; the
Prometheus config of compose loads the generated rules. No Docker engine is needed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.support.process import require_tool

REPO = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_base_image_is_pinned_by_version_and_digest() -> None:
    froms = [args for word, args in instructions() if word == "FROM"]
    assert len(froms) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}( AS \w+)?", froms[0]), froms[0]


def test_dependencies_are_installed_in_a_layer_before_the_code() -> None:
    steps = instructions()
    index = {i: (word, args) for i, (word, args) in enumerate(steps)}
    copy_code = next(i for i, (w, a) in index.items() if w == "COPY" and a.split()[0] == "slo_service")
    copy_project = next(i for i, (w, a) in index.items() if w == "COPY" and "pyproject.toml" in a.split())
    installs = [i for i, (w, a) in index.items() if w == "RUN" and "pip install" in a]
    deps = installs[0]
    assert copy_project < deps < copy_code, steps
    assert "pip install ." in steps[deps][1]  # the dependencies of pyproject.toml, with a stub package
    assert not any(w == "COPY" and i < deps and "slo_service" in a.split()[0] for i, (w, a) in index.items())
    assert any(i > copy_code and "--no-deps" in steps[i][1] for i in installs)  # the code adds no dependency


def test_the_runtime_user_is_not_root_and_cannot_change_the_code() -> None:
    steps = instructions()
    users = [(i, args) for i, (word, args) in enumerate(steps) if word == "USER"]
    assert users, "no USER: the container would run as root"
    last_user_at, user = users[-1]
    assert user not in ("root", "0", "0:0")
    assert not any(word in ("RUN", "COPY", "ADD") for word, _ in steps[last_user_at:])  # nothing built as it
    runs = " ".join(args for word, args in steps if word == "RUN")
    assert "chown slo:slo /data" in runs  # /data is the user's
    assert not re.search(r"chown[^&]*\s/app\b", runs), "the code must stay root's"
    assert not any("--chown" in args for word, args in steps if word in ("COPY", "ADD"))


def test_the_default_command_shows_data() -> None:
    steps = dict(instructions())
    assert steps["ENTRYPOINT"] == '["slo-service"]' and steps["CMD"] == '["demo"]'


def compose_command() -> list[str]:
    """`docker compose` (the plugin) if it works, else Debian's `docker-compose`; skip/fail as require_tool."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return [require_tool("docker-compose", "docker-compose")]


def test_compose_file_is_valid_for_docker_compose() -> None:
    result = subprocess.run(
        [*compose_command(), "-f", "compose.yaml", "config"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert {"slo-service", "postgres", "prometheus", "alertmanager", "grafana"} <= set(resolved["services"])
    env = resolved["services"]["slo-service"]["environment"]
    assert env["SLO_SERVICE_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_compose_mounts_files_that_exist_and_the_generated_artifacts() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    sources = []
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                sources.append(source)
                assert (REPO / source).exists(), f"compose.yaml mounts {source}, which does not exist"
    assert {"./alert_rules", "./alert_rules/alertmanager.yml", "./dashboards"} <= set(sources)


def test_the_compose_prometheus_loads_the_generated_rules(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    # the layout of the container: the config, and alert_rules/ mounted at rules/ beside it
    shutil.copy(REPO / "deploy" / "prometheus" / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copytree(REPO / "alert_rules", tmp_path / "rules")
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "slo-rules.yml" in result.stdout and "slo-service.rules.yml" in result.stdout
