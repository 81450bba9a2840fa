"""Configs with many SLOs on one push source, and data for them, for the console's tests and benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SERVICES = ("checkout", "fraud", "search")


PER_FILE = 4000  # SLOs per config file: a file is at most 1 MiB


def many_slos_config(directory: Path, n: int) -> list[Path]:
    """Config files for `n` ratio SLOs over the push source `p`, spread over three services; SLO i has label
    shard=i%2 and reads requests_total{slo="s<i>"}; 4,000 SLOs a file. Default alert policy."""
    head = ["apiVersion: slo-service/v1", "services:"]
    head += [f"  - {{name: {s}, labels: {{team: team-{s}}}}}" for s in SERVICES]
    head += ["sources: [{name: p, type: push}]"]
    paths = []
    for first in range(0, max(n, 1), PER_FILE):
        lines = head if first == 0 else ["apiVersion: slo-service/v1"]
        lines = [*lines, "slos:"]
        for i in range(first, min(n, first + PER_FILE)):
            lines.append(
                f"  - {{service: {SERVICES[i % 3]}, name: s{i}, objective: 99, period: 7d,"
                f" labels: {{shard: '{i % 2}'}},"
                f' sli: {{ratio: {{source: p, good: \'requests_total{{slo="s{i}",code="200"}}\','
                f" total: 'requests_total{{slo=\"s{i}\"}}'}}}}}}"
            )
        path = directory / f"slos-{first // PER_FILE}.yaml"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def ingest_body(n: int, errors: dict[int, float] | None = None, ok: float = 1000.0) -> dict[str, Any]:
    """A push of request counters for SLOs 0..n-1: `ok` good requests each, plus errors[i] failed ones."""
    samples: list[dict[str, Any]] = []
    for i in range(n):
        samples.append({"metric": "requests_total", "labels": {"slo": f"s{i}", "code": "200"}, "value": ok})
        bad = (errors or {}).get(i, 0.0)
        if bad:
            samples.append({"metric": "requests_total", "labels": {"slo": f"s{i}", "code": "500"}, "value": bad})
    return {"source": "p", "samples": samples}
