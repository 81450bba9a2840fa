"""`slo-service actions list|approve|deny`: response-action runs of a running service, through its API.

The commands reuse cli.py's API client (token from SLO_SERVICE_TOKEN / SLO_SERVICE_TOKEN_FILE, exit 1 on an
API error, 2 when the service cannot be reached), imported when a command runs: cli.py registers this app.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

actions_app = typer.Typer(help="Response-action runs of a running service: list, approve, deny.", no_args_is_help=True)

UrlOption = Annotated[str | None, typer.Option("--url", help="the service, e.g. http://127.0.0.1:8080")]


def _call(method: str, url: str | None, path: str, **kwargs: Any) -> Any:
    from slo_service import cli  # not at import time: cli.py imports this module

    return cli._api(method, cli._base_url(url), path, **kwargs)


@actions_app.command("list")
def actions_list(
    state: Annotated[str | None, typer.Option(help="only runs in this state, e.g. pending_approval")] = None,
    service: Annotated[str | None, typer.Option(help="only runs of this service")] = None,
    decisions: Annotated[bool, typer.Option("--decisions", help="list the decisions (and why) instead")] = False,
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 50,
    url: UrlOption = None,
) -> None:
    """A table of action runs (or, with --decisions, of the policies' decisions)."""
    params: dict[str, Any] = {"limit": limit}
    if service:
        params["service"] = service
    out = Console() if Console().is_terminal else Console(width=250)
    if decisions:
        table = Table(title="decisions")
        for col in ("decided at", "policy", "action", "subject", "outcome", "run", "why"):
            table.add_column(col, overflow="fold")
        for d in _call("GET", url, "/api/v1/decisions", params=params):
            why = d["why"]
            reason = why.get("attributed_to", {}).get("version") or why.get("trigger", "")
            table.add_row(
                d["decided_at"], d["policy"], d["action"], d["subject"], d["outcome"], str(d["run_id"] or ""), reason
            )
        out.print(table)
        return
    if state:
        params["state"] = state
    table = Table(title="action runs")
    for col in ("id", "state", "action", "service", "target", "policy", "attempts", "by", "created"):
        table.add_column(col, overflow="fold")
    for r in _call("GET", url, "/api/v1/actions", params=params):
        table.add_row(
            str(r["id"]),
            r["state"],
            r["action"],
            r["service"],
            r["target"] or "",
            r["policy"],
            str(r["attempts"]),
            r["decided_by"] or "",
            r["created_at"],
        )
    out.print(table)


@actions_app.command("approve")
def actions_approve(
    run_id: Annotated[int, typer.Argument(help="the action run id")],
    by: Annotated[str | None, typer.Option(help="who approves (default: the token's name)")] = None,
    url: UrlOption = None,
) -> None:
    """Approve a run waiting for approval: it is sent next."""
    run = _call("POST", url, f"/api/v1/actions/{run_id}/approve", json={"by": by} if by else {})
    typer.echo(f"run {run['id']} {run['state']} by {run['decided_by']}")


@actions_app.command("deny")
def actions_deny(
    run_id: Annotated[int, typer.Argument(help="the action run id")],
    by: Annotated[str | None, typer.Option(help="who denies (default: the token's name)")] = None,
    reason: Annotated[str | None, typer.Option(help="why")] = None,
    url: UrlOption = None,
) -> None:
    """Deny a run waiting for approval: it is never sent."""
    body = {k: v for k, v in (("by", by), ("reason", reason)) if v}
    run = _call("POST", url, f"/api/v1/actions/{run_id}/deny", json=body)
    typer.echo(f"run {run['id']} {run['state']} by {run['decided_by']}")
