"""A user's mistake on the command line is one line on stderr with a non-zero exit code, never a traceback;
`slo-service --debug` shows the traceback instead."""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_cli import cli as run_cli
from tests.support.process import free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "slo-service.yaml"
DOWN_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:{port}/test"


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, COLUMNS="200", **env)  # wide: one error line stays one line


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    """Exit `code`, no traceback anywhere, one `error:` line on stderr that holds every word."""
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output and "╭" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    return free_port()


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another process (here: a socket of this test) listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


@pytest.mark.parametrize(
    "args",
    [
        ("db", "upgrade"),
        ("token", "list"),
        ("token", "create", "--name", "ci", "--scope", "ci"),
        ("token", "revoke", "ci"),
    ],
    ids=["db-upgrade", "token-list", "token-create", "token-revoke"],
)
def test_a_database_that_is_down_is_one_line_naming_it(args: tuple[str, ...], closed_port: int) -> None:
    result = cli(*args, "--database-url", DOWN_POSTGRES.format(port=closed_port))
    assert_one_line_error(
        result, 2, f"cannot reach the database at 127.0.0.1:{closed_port}", "Connection refused", "--database-url"
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("nosuchdb://host/db", "Can't load plugin: sqlalchemy.dialects:nosuchdb"),
        ("postgresql+nosuchdriver://host/db", "Can't load plugin: sqlalchemy.dialects:postgresql.nosuchdriver"),
        ("not a url", "not a SQLAlchemy URL"),
    ],
    ids=["scheme", "driver", "garbage"],
)
@pytest.mark.parametrize("command", ["db-upgrade", "serve", "demo", "token-list"])
def test_a_database_url_sqlalchemy_cannot_use_is_refused_before_anything_starts(
    url: str, problem: str, command: str, tmp_path: Path
) -> None:
    args = {
        "db-upgrade": ["db", "upgrade"],
        "serve": ["serve", "-c", str(EXAMPLE), "--port", str(free_port())],
        "demo": ["demo", "--port", str(free_port()), "--demo-port", str(free_port())],
        "token-list": ["token", "list"],
    }[command]
    result = cli(*args, "--database-url", url, cwd=tmp_path, SLO_SERVICE_DATA_DIR=str(tmp_path / "data"))
    assert_one_line_error(result, 1, problem, "postgresql+psycopg://")


def test_serve_on_a_port_in_use_names_the_port_and_the_way_out(busy_port: int, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    result = cli("serve", "-c", str(EXAMPLE), "--port", str(busy_port), "--database-url", url, cwd=tmp_path)
    assert_one_line_error(result, 1, f"port {busy_port} on 127.0.0.1 is already in use", "--port", "stop the process")


def test_demo_on_a_model_server_port_in_use_names_its_option(busy_port: int, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    result = cli("demo", "--port", str(free_port()), "--demo-port", str(busy_port), "--database-url", url, cwd=tmp_path)
    assert_one_line_error(result, 1, f"port {busy_port}", "--demo-port")


def test_serve_with_a_data_directory_it_cannot_write_says_which(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    url = f"sqlite:///{tmp_path}/s.db"
    result = cli(
        "serve",
        "-c",
        str(EXAMPLE),
        "--port",
        str(free_port()),
        "--database-url",
        url,
        SLO_SERVICE_DATA_DIR=str(blocker / "data"),
    )
    assert_one_line_error(result, 1, f"data directory {blocker / 'data'} is not writable", "SLO_SERVICE_DATA_DIR")


def test_a_missing_config_file_is_named_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = cli("serve", "-c", str(missing), "--port", str(free_port()), "--database-url", f"sqlite:///{tmp_path}/s")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{missing}: (file): file not found" in result.stderr
    generated = cli("generate", "prometheus-rules", "-c", str(missing))
    assert generated.returncode == 1 and "Traceback" not in generated.stderr
    assert f"{missing}: (file): file not found" in generated.stderr


def test_a_port_out_of_range_is_refused_by_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    option = cli("serve", "-c", str(EXAMPLE), "--port", "99999", "--database-url", url)
    assert option.returncode == 2 and "Traceback" not in option.stderr and "--port" in option.stderr
    setting = cli("serve", "-c", str(EXAMPLE), "--database-url", url, SLO_SERVICE_PORT="99999")
    assert_one_line_error(setting, 1, "port 99999 is out of range", "--port")


def test_a_sqlite_file_that_cannot_be_made_says_where(tmp_path: Path) -> None:
    result = cli("db", "upgrade", "--database-url", "sqlite:////proc/s.db")  # /proc takes no new file
    assert_one_line_error(result, 2, "cannot reach the database at /proc/s.db", "directory of /proc/s.db", "may write")


def test_an_output_file_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = cli("generate", "self-rules", "--out", str(blocker / "rules.yml"))
    assert_one_line_error(result, 1, f"cannot use {blocker}")


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("alerts",),
        ("alerts", "ack", "abc", "--by", "me"),
        ("silence", "list"),
        ("silence", "add", "-m", 'slo="a"', "--author", "me"),
        ("silence", "expire", "x"),
        ("oncall",),
        ("drift", "runs"),
    ],
    ids=lambda a: "-".join(a[:2]),
)
def test_a_service_that_is_not_running_is_one_line_with_exit_code_2(args: tuple[str, ...], closed_port: int) -> None:
    result = cli(*args, "--url", f"http://127.0.0.1:{closed_port}")
    assert_one_line_error(result, 2, f"cannot reach the service at http://127.0.0.1:{closed_port}/api/v1/", "--url")


def test_debug_shows_the_traceback_instead(closed_port: int) -> None:
    result = cli("--debug", "db", "upgrade", "--database-url", DOWN_POSTGRES.format(port=closed_port))
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "OperationalError" in result.stderr and "Connection refused" in result.stderr
    assert not any(line.startswith("error: ") for line in result.stderr.splitlines())
    # the traceback shows no local variables: they would print URLs with passwords and tokens
    assert "locals" not in result.stderr.lower()


def test_help_shows_plain_metavars_and_defaults() -> None:
    commands = [
        ["serve"],
        ["demo"],
        ["validate"],
        ["db", "upgrade"],
        ["token", "create"],
        ["silence", "add"],
        ["alerts"],
        ["alerts", "ack"],
        ["status"],
        ["oncall"],
        ["drift", "runs"],
        ["generate", "alertmanager-config"],
        ["import"],
    ]
    helps = {}
    for command in commands:
        result = cli(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert not re.search(r"<[A-Za-z][\w\[\], ]*>", result.stdout), result.stdout  # no <list[str]>, <int>, <bool>
        helps[" ".join(command)] = " ".join(result.stdout.split())  # wrapping aside
    assert "--port PORT" in helps["serve"] and "[default: SLO_SERVICE_PORT or 8080]" in helps["serve"]
    assert "--demo-port PORT" in helps["demo"] and "[default: 9105;" in helps["demo"]
    assert "--database-url URL" in helps["db upgrade"]
    assert "-s, --scope SCOPE" in helps["token create"]
    assert "-m, --matcher MATCHER" in helps["silence add"]
    assert "[default: examples/slo-service.yaml]" in helps["demo"]
    assert "[default: SLO_SERVICE_CONFIG]" in helps["serve"]


def test_no_two_commands_share_a_help_text() -> None:
    """Every command says what it itself does (a copy-pasted help text names another command's job)."""
    from typer.main import get_command

    from slo_service.cli import app

    texts: dict[str, str] = {}

    def walk(command: object, path: str) -> None:
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, f"{path} {name}".strip())
        if path:
            help_text = (getattr(command, "help", None) or "").strip()
            assert help_text, f"{path} has no help"
            assert help_text not in texts.values(), f"{path} repeats the help of another command"
            texts[path] = help_text

    walk(get_command(app), "")
    assert {"oncall", "drift runs", "status", "alerts"} <= set(texts)
