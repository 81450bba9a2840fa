"""Every command the README and docs/ show works as written, as far as can be checked without running it: each
`slo-service ...` names a real subcommand with real options, each `curl` names a full URL whose path and method
are in the service's OpenAPI document (with a token where the API needs one), each `make X` a real target."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from slo_service.cli import app
from tests.integration.test_alerts_api import client_for, make_world

REPO = Path(__file__).resolve().parents[2]
# docs/pipelines.md is left to test_pipelines_doc.py, which runs its snippets' shell steps against a real service
# (a stricter check than this file's; its shell function's curl has no literal URL to read here).
DOCS = [REPO / "README.md", *sorted(p for p in (REPO / "docs").glob("*.md") if p.name != "pipelines.md")]
# The demo's own servers (slo_service/demo): the simulated model server and the alert receiver.
DEMO_ROUTES = {"9105": {("POST", "/incident"), ("GET", "/metrics")}, "9106": {("POST", "/alerts")}}
OPEN_PATHS = {"/healthz", "/readyz", "/metrics"}


def code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, command) for every line of a fenced code block and every inline code span, with `\\`
    continuations joined and `$ ` prompts dropped."""
    out: list[tuple[int, str]] = []
    in_block = False
    pending = ""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            text = pending + line.strip().removeprefix("$ ")
            if text.endswith("\\"):
                pending = text[:-1] + " "
                continue
            pending = ""
            out.append((number, text))
        else:
            out += [(number, span) for span in re.findall(r"`([^`]+)`", line.replace("\\|", "|"))]
    return out


def commands(pattern: str) -> list[tuple[str, str]]:
    """(`file:line`, command text) of every code line matching `pattern`, over README.md and docs/*.md."""
    found = []
    for doc in DOCS:
        for number, text in code_lines(doc):
            if re.search(pattern, text):
                found.append((f"{doc.relative_to(REPO)}:{number}", text))
    return found


SLO_SERVICE = r"(?:^|[\s(=]|bin/)slo-service\s+(?=[a-z-])"
CURL = r"(?:^|[\s(])curl\s"


def test_the_docs_show_commands_at_all() -> None:
    assert len(commands(SLO_SERVICE)) > 40 and len(commands(CURL)) > 8


def _resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The subcommand the words name, and the words after it."""
    command: Any = get_command(app)
    rest = list(words)
    while rest and hasattr(command, "commands"):  # a group (Typer's groups are no click.Group subclass)
        name = rest[0].strip("[]")
        alternatives = name.split("|")
        if not all(a in command.commands for a in alternatives):
            break
        for alternative in alternatives[1:]:  # `silence add|list|expire`: each must exist (checked above)
            assert alternative in command.commands
        command = command.commands[alternatives[0]]
        rest = rest[1:]
    return command, rest


@pytest.mark.parametrize(("where", "text"), commands(SLO_SERVICE), ids=lambda v: v if ":" in str(v) else "")
def test_each_documented_slo_service_command_exists_with_its_options(where: str, text: str) -> None:
    tail = re.split(SLO_SERVICE, text, maxsplit=1)[1]
    tail = tail.split(" #")[0].split(" | ")[0].split(")")[0].split(" && ")[0].split(" / ")[0]
    words = tail.replace("[", " ").replace("]", " ").replace("...", " ").split()
    global_options = {"--debug", "--help"}
    while words and words[0] in global_options:
        words = words[1:]
    command, rest = _resolve(words)
    is_group = hasattr(command, "commands")
    placeholder = bool(rest) and rest[0].isupper()  # `slo-service --debug COMMAND ...`
    assert not is_group or not rest or placeholder or rest[0].startswith("-") or command.name == "alerts", (
        f"{where}: `slo-service {tail}` names no subcommand {rest[0]!r} of {command.name!r}"
    )
    known = set(global_options)
    for param in command.params:
        known.update(param.opts)
        known.update(param.secondary_opts)
    for word in rest:
        if word.startswith("-") and not word.startswith("---"):
            option = word.split("=")[0]
            assert option in known, f"{where}: `slo-service {tail}`: {command.name} has no option {option}"


def _openapi() -> dict[str, Any]:
    schema: dict[str, Any] = client_for(make_world()).app.openapi()  # type: ignore[attr-defined]
    return schema


def _route_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


@pytest.mark.parametrize(("where", "text"), commands(CURL), ids=lambda v: v if ":" in str(v) else "")
def test_each_documented_curl_calls_a_real_route_with_what_it_needs(where: str, text: str) -> None:
    try:
        words = shlex.split(text.split(" #")[0])
    except ValueError:  # an unbalanced quote in an inline span that shows only part of a line
        words = text.split()
    urls = [w for w in words if re.search(r"^(https?://|\$SVC|:\d+/|[\w.-]*:\d+/)", w)]
    if not urls:
        assert re.search(r"curl .*\b[A-Z_]{3,}\b", text), f"{where}: `{text}` calls no URL"
        return  # a placeholder (`curl -sv TARGET_URL`): the reader's own target
    url = urls[0]
    assert url.startswith(("http://", "https://", "$SVC")), (
        f"{where}: `{text}`: {url!r} is no URL curl can call (write http://127.0.0.1:8080/...)"
    )
    method = words[words.index("-X") + 1] if "-X" in words else "GET"
    match = re.match(r"^(?:https?://[^/:]+(?::(\d+))?|\$SVC)(/[^?]*)?", url)
    assert match is not None, url
    port, path = match.group(1), match.group(2) or "/"
    path = re.sub(r"<[^>]+>", "X", path)
    if port in DEMO_ROUTES:
        assert (method, path) in DEMO_ROUTES[port], f"{where}: the demo on :{port} has no {method} {path}"
        return
    assert port in (None, "8080"), f"{where}: the service listens on 8080 by default, not {port}"
    paths = _openapi()["paths"]
    templates = [t for t in paths if _route_regex(t).match(path)]
    assert templates, f"{where}: `{text}`: no route {path} in the OpenAPI document"
    assert any(method.lower() in paths[t] for t in templates), f"{where}: {path} takes no {method}"
    if path not in OPEN_PATHS:
        assert "Authorization: Bearer" in text, f"{where}: `{text}`: the API needs a token (-H 'Authorization: ...')"


def test_each_documented_make_target_exists() -> None:
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.MULTILINE))
    for where, text in commands(r"(?:^|\s)make\s+[a-z]"):
        for target in re.findall(r"(?:^|\s)make\s+([a-z][\w-]*)", text):
            assert target in targets, f"{where}: `make {target}`: no such target"
