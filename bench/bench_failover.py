"""Benchmark: failover of the scheduler between two `slo-service serve` replicas on one PostgreSQL.

    .venv/bin/python bench/bench_failover.py [--runs 5] [--interval 5] [--url postgresql+psycopg://...]

Two replicas (real processes, a scrape source and a push source, the leader storing its evaluations every
cycle) run on a fresh schema. Each run SIGKILLs the current leader and measures, on the wall clock, the
time from the kill to the first evaluation stored by the replica that took over (slo_evaluations.at, polled
every 50 ms), then starts a replacement replica so the next run again has two. The requirement is at most
two evaluation intervals. Prints every run and the median, min and max.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.migrate import upgrade
from slo_service.adapters.sql.models import EvaluationRow

CONFIG = """apiVersion: slo-service/v1
services:
  - name: svc
sources:
  - {name: batch, type: push}
slos:
  - service: svc
    name: runs
    objective: 99
    period: 7d
    sli:
      ratio: {source: batch, good: 'runs_total{status="ok"}', total: runs_total}
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(url: str, config: Path, interval: float, name: str, logs: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "SLO_SERVICE_EVALUATION_INTERVAL": str(interval),
        "SLO_SERVICE_SNAPSHOT_INTERVAL": "0",
        "SLO_SERVICE_REPLICA_ID": name,
        "SLO_SERVICE_ANONYMOUS_READ": "true",
        "SLO_SERVICE_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "slo_service", "serve", "--port", str(port), "--database-url", url]
    with open(logs / f"{name}.log", "wb") as log:
        proc = subprocess.Popen([*cmd, "--config", str(config)], stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not get ready: {(logs / f'{name}.log').read_text()[-2000:]}")


def leader_of(replicas: dict[str, tuple[subprocess.Popen[bytes], str]]) -> str | None:
    leaders = [n for n, (_, base) in replicas.items() if httpx.get(base + "/readyz", timeout=2).json().get("leader")]
    return leaders[0] if len(leaders) == 1 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--interval", type=float, default=5.0, help="evaluation interval, seconds")
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(args.url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    upgrade(url)
    engine = make_engine(url)
    tmp = Path(tempfile.mkdtemp(prefix="bench-failover-"))
    config = tmp / "slo.yaml"
    config.write_text(CONFIG)
    replicas: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    takeovers: list[float] = []
    try:
        for i in range(2):
            replicas[f"r{i}"] = start(url, config, args.interval, f"r{i}", tmp)
        serial = 2
        for run in range(args.runs):
            deadline = time.monotonic() + 60
            leader = None
            while leader is None and time.monotonic() < deadline:
                leader = leader_of(replicas)
                time.sleep(0.1)
            assert leader is not None, "no single leader"
            time.sleep(args.interval)  # a settled leader, a cycle or two in
            proc, _ = replicas.pop(leader)
            proc.send_signal(signal.SIGKILL)
            killed = datetime.now(UTC)
            proc.wait()
            first = None
            while first is None:
                with engine.connect() as conn:
                    at = conn.execute(select(func.max(EvaluationRow.at))).scalar()
                if at is not None and at > killed:
                    first = at
                else:
                    time.sleep(0.05)
                    if (datetime.now(UTC) - killed).total_seconds() > 10 * args.interval:
                        raise RuntimeError("no evaluation after the kill")
            took = (first - killed).total_seconds()
            takeovers.append(took)
            print(f"run {run + 1}: leader {leader} killed, first evaluation by the survivor after {took:.2f} s")
            replicas[f"r{serial}"] = start(url, config, args.interval, f"r{serial}", tmp)
            serial += 1
    finally:
        for proc, _ in replicas.values():
            proc.send_signal(signal.SIGTERM)
        for proc, _ in replicas.values():
            proc.wait(timeout=20)
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    print(
        f"evaluation interval {args.interval:g} s, {len(takeovers)} runs: median {statistics.median(takeovers):.2f} s, "
        f"min {min(takeovers):.2f} s, max {max(takeovers):.2f} s "
        f"(= {max(takeovers) / args.interval:.2f} intervals at most; the bound is 2)"
    )


if __name__ == "__main__":
    main()
