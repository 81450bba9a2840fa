"""The demo's stand-in CI: GitHub Actions' workflow_dispatch API on the demo receiver (127.0.0.1:9106).

The example config's `demo-ci` target (type github_workflow_dispatch, url http://127.0.0.1:9106) posts
`/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches` here, and the `make run` terminal prints
one line per trigger, e.g.

  02:58:12 CI     ROLLBACK fraud-detector v4 -> v3 (workflow rollback.yml of acme/fraud-detector, run 1, key 3f2a...)

It answers 204 like GitHub; a real workflow would report back to POST /api/v1/actions/{run}/status.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

DISPATCH_PATH = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/actions/workflows/(?P<workflow>[^/]+)/dispatches$")


def is_dispatch(path: str) -> bool:
    return DISPATCH_PATH.match(path.split("?", 1)[0]) is not None


def describe_dispatch(path: str, body: Mapping[str, Any]) -> str:
    """One readable line for one workflow_dispatch request."""
    m = DISPATCH_PATH.match(path.split("?", 1)[0])
    where = f"workflow {m['workflow']} of {m['repo']}" if m else path
    inputs = body.get("inputs") if isinstance(body.get("inputs"), Mapping) else {}
    assert isinstance(inputs, Mapping)
    action = str(inputs.get("action", "?")).upper()
    parts = [f"{action:<8}", str(inputs.get("service", "?"))]
    if inputs.get("from_version") or inputs.get("to_version"):
        parts.append(f"{inputs.get('from_version', '?')} -> {inputs.get('to_version', '?')}")
    if inputs.get("monitor"):
        parts.append(f"monitor {inputs['monitor']}")
    key = str(inputs.get("idempotency_key", ""))[:8]
    parts.append(f"({where}, ref {body.get('ref', '?')}, run {inputs.get('action_run_id', '?')}, key {key}...)")
    return " ".join(parts)
