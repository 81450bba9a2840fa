"""The whole service at 1,000 / 10,000 SLOs on PostgreSQL: start-up, /metrics, wrk, RSS over a simulated day.

    .venv/bin/python bench/bench_service_10k.py seed --slos 10000            # once per size (a few minutes)
    .venv/bin/python bench/bench_service_10k.py startup --slos 10000 --runs 3 [--tree /work/main]
    .venv/bin/python bench/bench_service_10k.py http --slos 10000 [--tree /work/main]
    .venv/bin/python bench/bench_service_10k.py recode --slos 10000 --compression zlib  # for a baseline tree
    .venv/bin/python bench/bench_service_10k.py seed --slos 10000 --schema-suffix _soak   # the soak's own copy
    .venv/bin/python bench/bench_service_10k.py soak --slos 10000 --hours 24 --schema-suffix _soak

seed: a PostgreSQL schema `bench_svc_<N>` holding 30 days of history for N SLOs as the service keeps it after
compaction with one day of raw retention: the last day in 1-minute slices, the 29 days before in hourly ones
(N=10,000: 14.4M + 7.0M = 21.4M rows, written server-side with generate_series), a matrix checkpoint of
exactly that history ten minutes old (built with numpy from the same formulas), and the ten minutes of
1-minute slices written after it, i.e. a restart at the worst point of the default 10-minute checkpoint
interval. The config (N SLOs of one push source, so nothing scrapes during the measurements) goes to
/tmp/slo-bench-<N>/slos.yaml.

startup: `slo-service serve` as a process on a free port (the code of `--tree`, default this checkout);
seconds from spawn to /readyz 200 and the process's RSS then; median of --runs fresh processes.

recode: rewrite the stored checkpoint with `--compression` (zstd, the format now; zlib, the one before, which
a baseline tree needs to start from the checkpoint), keeping its time and history mark, so its tail stays.

http: a served process (ready, evaluating every 15 s): /metrics size and time (plain and gzip, median of 9
sequential scrapes), then wrk (2 threads, 8 connections, 15 s) against /api/v1/slos and /metrics with gzip,
and the service's own evaluation duration (slo_service_evaluation_duration_seconds) before and during
the wrk runs.

soak: in one process on a ManualClock: the service's history (PostgreSQL, from the checkpoint), evaluator and
/metrics cache; each simulated minute every SLO gets a write (as a scrape or push writes it: one increment
per SLO per minute through LiveHistory.record), every 5 simulated minutes an evaluation and a /metrics
render, every 30 a checkpoint, every hour a compaction. RSS is printed every simulated hour.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slo_service.adapters.sql.engine import make_engine  # noqa: E402
from slo_service.adapters.sql.migrate import upgrade  # noqa: E402
from slo_service.adapters.sql.store import SqlHistoryStore  # noqa: E402
from slo_service.core.counts_matrix import CountsMatrix  # noqa: E402
from slo_service.core.ports import CountIncrement  # noqa: E402

BASE_URL = os.environ.get("SLO_SERVICE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TOKEN = "bench-admin-token-0123456789abcdef0123456789"
TAIL_MINUTES = 10


SCHEMA_SUFFIX = ""  # --schema-suffix: e.g. the soak runs a day ahead in time on a schema of its own


def schema(n: int) -> str:
    return f"bench_svc_{n}{SCHEMA_SUFFIX}"


def db_url(n: int) -> str:
    url = make_url(BASE_URL).update_query_dict({"options": f"-csearch_path={schema(n)}"})
    return url.render_as_string(hide_password=False)


def config_dir(n: int) -> Path:
    return Path(f"/tmp/slo-bench-{n}")


def key(i: int) -> str:
    return f"svc{i // 10}/slo{i}"


def load_avg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def rss_mib(pid: int | str = "self", field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------------------------- seed


def write_config(n: int) -> None:
    """Files of 1,000 SLOs each (a config file may hold at most 1 MiB), the source in the first."""
    d = config_dir(n)
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("*.yaml"):
        old.unlink()
    for first in range(0, n, 1000):
        write_config_file(d / f"slos-{first // 1000:03d}.yaml", first, min(n, first + 1000))


def write_config_file(path: Path, first: int, end: int) -> None:
    lines = ["apiVersion: slo-service/v1", "kind: Config", "services:"]
    lines += [f"  - name: svc{s}" for s in range(first // 10, (end + 9) // 10)]
    if first == 0:
        lines += ["sources:", "  - {name: bench, type: push}"]
    lines += ["slos:"]
    for i in range(first, end):
        lines += [
            f"  - service: svc{i // 10}",
            f"    name: slo{i}",
            f"    objective: {99.9 if i % 2 else 99}",
            "    period: 30d",
            "    sli:",
            "      ratio:",
            "        source: bench",
            f"        good: 'requests_ok_total{{slo=\"{i}\"}}'",
            f"        total: 'requests_total{{slo=\"{i}\"}}'",
        ]
    path.write_text("\n".join(lines) + "\n")


def mix(i: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Pseudo-random in [0, 1000003) from (SLO, time), the same in SQL: counts that compress like real ones."""
    x = (i * 7919 + t * 104729) % 1000003
    return (x * x) % 1000003


def minute_values(i: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(good, total) of SLO i in minute m (epoch minutes): the formula the SQL seed uses too."""
    r = mix(i, m)
    total = 80 + r % 41
    return total - (r % 17 == 0), total


def hour_values(i: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = mix(i, h)
    total = 5000 + r % 2001
    return total - r % 23, total


def seed(n: int) -> None:
    began = time.perf_counter()
    write_config(n)
    admin = create_engine(BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema(n)}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema(n)}"'))
    admin.dispose()
    url = db_url(n)
    upgrade(url)
    now = datetime.now(UTC)
    cp_minute = int(now.timestamp()) // 60 - TAIL_MINUTES  # the checkpoint's open minute
    first_minute = cp_minute - 1440 + 1
    first_hour = first_minute // 60 - 29 * 24
    engine = make_engine(url)
    with engine.begin() as conn:  # unlogged while loading: 21M rows in a few minutes
        conn.execute(text("ALTER TABLE slo_slices SET UNLOGGED"))
        conn.execute(
            text(
                """
            INSERT INTO slo_slices (key, series, resolution, start_epoch, good, total, seq)
            SELECT 'svc' || (i / 10) || '/slo' || i, 'events', 60, m * 60,
                   80 + r % 41 - CASE WHEN r % 17 = 0 THEN 1 ELSE 0 END, 80 + r % 41, 0
            FROM generate_series(0, :n - 1) i, generate_series(CAST(:m0 AS bigint), :m1) m,
                 LATERAL (SELECT ((i * 7919 + m * 104729) % 1000003) AS x) x,
                 LATERAL (SELECT (x.x * x.x) % 1000003 AS r) r
            """
            ),
            {"n": n, "m0": first_minute, "m1": cp_minute},
        )
        conn.execute(
            text(
                """
            INSERT INTO slo_slices (key, series, resolution, start_epoch, good, total, seq)
            SELECT 'svc' || (i / 10) || '/slo' || i, 'events', 3600, h * 3600,
                   5000 + r % 2001 - r % 23, 5000 + r % 2001, 0
            FROM generate_series(0, :n - 1) i, generate_series(CAST(:h0 AS bigint), :h1) h,
                 LATERAL (SELECT ((i * 7919 + h * 104729) % 1000003) AS x) x,
                 LATERAL (SELECT (x.x * x.x) % 1000003 AS r) r
            """
            ),
            {"n": n, "h0": first_hour, "h1": first_minute // 60 - 1},
        )
        conn.execute(text("ALTER TABLE slo_slices SET LOGGED"))
        conn.execute(text("ANALYZE slo_slices"))
    print(f"slices written in {time.perf_counter() - began:.0f}s", flush=True)
    # the checkpoint: exactly these slices, in the matrix the service would build at the checkpoint's time
    from slo_service.pipeline.checkpoint import encode

    store = SqlHistoryStore(engine)
    matrix = CountsMatrix([key(i) for i in range(n)], datetime.fromtimestamp(cp_minute * 60 + 30, UTC))
    rows = np.arange(n, dtype=np.int64)
    for h0 in range(first_hour, first_minute // 60, 24):
        hours = np.arange(h0, min(h0 + 24, first_minute // 60), dtype=np.int64)
        r, h = np.repeat(rows, len(hours)), np.tile(hours, n)
        g, t = hour_values(r, h)
        matrix.add_many(r, h * 3600, g, t, np.full(len(r), 60.0))
    for m0 in range(first_minute, cp_minute + 1, 120):
        minutes = np.arange(m0, min(m0 + 120, cp_minute + 1), dtype=np.int64)
        r, m = np.repeat(rows, len(minutes)), np.tile(minutes, n)
        g, t = minute_values(r, m)
        matrix.add_many(r, m * 60, g, t)
    mark = store.history_mark()
    meta, arrays = matrix.state()
    doc, parts = encode(meta, arrays)
    store.save_checkpoint(datetime.fromtimestamp(cp_minute * 60 + 30, UTC), mark, doc, parts)
    print(f"checkpoint: {sum(map(len, parts)) / 2**20:.1f} MiB", flush=True)
    # the tail: the minutes written after the checkpoint (the open minute again, and the ten after it)
    for m in range(cp_minute, cp_minute + TAIL_MINUTES + 1):
        at = datetime.fromtimestamp(m * 60, UTC)
        store.add_counts([CountIncrement(key(i), at, 9.0, 10.0) for i in range(n)])
    engine.dispose()
    print(f"seeded {n} SLOs in {time.perf_counter() - began:.0f}s: schema {schema(n)}, config {config_dir(n)}")


# ---------------------------------------------------------------------------------------------- a served process


class Served:
    """`slo-service serve` of a source tree as a process on a free port; stopped by its PID."""

    def __init__(self, n: int, tree: Path, port: int, checkpoints: bool = True) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(tree),
            "SLO_SERVICE_ADMIN_TOKEN": TOKEN,
            "SLO_SERVICE_LOG_LEVEL": "WARNING",
            "SLO_SERVICE_DATA_DIR": str(config_dir(n) / "var"),
        }
        if tree.resolve() != ROOT:  # a baseline without this branch's migration: do not touch the schema
            env["SLO_SERVICE_RUN_MIGRATIONS"] = "false"
        if not checkpoints:
            env["SLO_SERVICE_CHECKPOINT_INTERVAL"] = "0"
        cmd = [sys.executable, "-m", "slo_service", "serve", "--config", str(config_dir(n))]
        cmd += ["--port", str(port), "--database-url", db_url(n)]
        self.url = f"http://127.0.0.1:{port}"
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait_ready(self, timeout: float = 900) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited: {self.proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError("not ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def startup(n: int, tree: Path, runs: int) -> None:
    times, rss = [], []
    for k in range(runs):
        served = Served(n, tree, free_port())
        try:
            times.append(served.wait_ready())
            rss.append(rss_mib(served.proc.pid))
        finally:
            served.stop()
        print(f"  run {k + 1}: ready in {times[-1]:.1f}s, RSS {rss[-1]:.0f} MiB (load {load_avg()})", flush=True)
    print(
        f"startup {n} SLOs, tree {tree}: median {statistics.median(times):.1f}s"
        f" (min {min(times):.1f}, max {max(times):.1f}), RSS at ready {statistics.median(rss):.0f} MiB"
    )


# ---------------------------------------------------------------------------------------------- http


def metric(body: str, name: str) -> float | None:
    m = re.search(rf"^{name} (\S+)$", body, re.M)
    return float(m.group(1)) if m else None


def wrk(url: str, path: str, gzip: bool, seconds: int) -> tuple[float, str]:
    cmd = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-H", f"Authorization: Bearer {TOKEN}"]
    if gzip:
        cmd += ["-H", "Accept-Encoding: gzip"]
    out = subprocess.run([*cmd, url + path], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return rps, p99


def http(n: int, tree: Path, seconds: int) -> None:
    served = Served(n, tree, free_port(), checkpoints=False)  # keep the seeded checkpoint and tail for `startup`
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        print(f"ready in {served.wait_ready():.1f}s; waiting for two evaluations", flush=True)
        client = httpx.Client(base_url=served.url, headers=headers, timeout=120)
        time.sleep(35)
        for encoding in ("identity", "gzip"):
            durations, sizes = [], []
            for _ in range(9):
                began = time.perf_counter()
                with client.stream("GET", "/metrics", headers={"Accept-Encoding": encoding}) as r:
                    raw = b"".join(r.iter_raw())
                durations.append(time.perf_counter() - began)
                sizes.append(len(raw))
            series = sum(1 for line in client.get("/metrics").text.splitlines() if line and line[0] != "#")
            print(
                f"/metrics {encoding}: median {statistics.median(durations) * 1000:.0f} ms"
                f" (max {max(durations) * 1000:.0f}), {statistics.median(sizes) / 2**20:.1f} MiB, {series:,} series"
                f" (load {load_avg()})",
                flush=True,
            )
        idle = metric(client.get("/metrics").text, "slo_service_evaluation_duration_seconds")
        during = []
        for path, gz in (("/api/v1/slos", False), ("/metrics", True)):
            rps, p99 = wrk(served.url, path, gz, seconds)
            during.append(metric(client.get("/metrics").text, "slo_service_evaluation_duration_seconds"))
            print(f"wrk {path}{' (gzip)' if gz else ''}: {rps:.1f} req/s, p99 {p99} (load {load_avg()})", flush=True)
        print(f"evaluation duration: idle {idle}s, during wrk {during}; RSS {rss_mib(served.proc.pid):.0f} MiB")
    finally:
        served.stop()


# ---------------------------------------------------------------------------------------------- soak


def soak(n: int, hours: int) -> None:
    from slo_service.adapters.memory import InMemoryHistoryStore  # noqa: F401  (imported for parity of RSS)
    from slo_service.core.clock import ManualClock
    from slo_service.exporter.collector import build_registry
    from slo_service.pipeline.evaluate import Evaluator
    from slo_service.pipeline.history import LiveHistory
    from slo_service.pipeline.runtime import Adapters, Runtime
    from slo_service.specs.loader import load_config

    config = load_config([str(config_dir(n))])
    engine = make_engine(db_url(n))
    store = SqlHistoryStore(engine)
    clock = ManualClock(datetime.now(UTC))
    history = LiveHistory(store, clock.now(), checkpoints=store)
    adapters = Adapters(scrape=lambda s: None, promql=lambda s, slos: None)  # type: ignore[arg-type,return-value]
    began = time.perf_counter()
    runtime = Runtime(config, store, history, Evaluator(history), adapters, clock, lambda: config)
    print(f"start (checkpoint + tail): {time.perf_counter() - began:.1f}s, RSS {rss_mib():.0f} MiB", flush=True)
    registry = build_registry(runtime)
    keys = [s.key for s in config.slos]
    rng = np.random.default_rng(1)
    print(f"{'sim h':>5} {'RSS MiB':>8} {'peak MiB':>9} {'eval s':>7} {'render s':>8} {'wall s':>7}", flush=True)
    wall = time.perf_counter()
    rss_by_hour = []
    for minute in range(1, hours * 60 + 1):
        clock.advance(timedelta(minutes=1))
        now = clock.now()
        totals = rng.poisson(100, n).astype(float)
        history.record([CountIncrement(k, now, t - 1, t) for k, t in zip(keys, totals, strict=True)])
        if minute % 5 == 0:
            result = runtime.evaluate()
            t0 = time.perf_counter()
            registry.slo_exposition.body(b"", gzip=True)  # a scrape after the evaluation
            render = time.perf_counter() - t0
        if minute % 30 == 0:  # the service's default is every 10 min; 30 keeps a simulated day under 30 min
            history.save_checkpoint(now)
        if minute % 60 == 0:
            store.compact(now, timedelta(days=1), timedelta(days=400))
            gc.collect()
            rss_by_hour.append(rss_mib())
            print(
                f"{minute // 60:>5} {rss_by_hour[-1]:>8.0f} {rss_mib(field='VmHWM'):>9.0f}"
                f" {result.duration_seconds:>7.2f} {render:>8.2f} {time.perf_counter() - wall:>7.0f}",
                flush=True,
            )
    half = rss_by_hour[len(rss_by_hour) // 2 :]
    print(
        f"soak {n} SLOs, {hours} simulated hours: RSS at the end {rss_by_hour[-1]:.0f} MiB, peak"
        f" {rss_mib(field='VmHWM'):.0f} MiB, second half min/max {min(half):.0f}/{max(half):.0f} MiB"
        f" (load {load_avg()})"
    )
    engine.dispose()


def recode(n: int, compression: str) -> None:
    """The stored checkpoint again, compressed with `compression`; same time and mark (the tail is kept)."""
    import zlib

    from slo_service.pipeline.checkpoint import decode, encode

    store = SqlHistoryStore(make_engine(db_url(n)))
    stored = store.load_checkpoint()
    if stored is None:
        raise SystemExit(f"no checkpoint in {schema(n)}: seed first")
    meta, arrays = decode(stored.meta, stored.parts)
    doc, parts = encode(meta, arrays)
    if compression == "zlib":  # the format before zstd, written as that code wrote it
        blobs = [zlib.compress(np.ascontiguousarray(a).tobytes(), 1) for a in decode(doc, parts)[1]]
        doc.update(compression="zlib", sizes=[len(b) for b in blobs])
        parts = [b"".join(blobs)]
    store.save_checkpoint(stored.created_at, stored.mark, doc, parts)
    print(
        f"checkpoint of {stored.created_at.isoformat()} (mark {stored.mark}) now {compression}: "
        f"{sum(map(len, parts)) / 2**20:.1f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["seed", "config", "startup", "http", "soak", "recode"])
    parser.add_argument("--slos", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tree", type=Path, default=ROOT, help="source tree to serve (baseline: /work/main)")
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per path")
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--compression", choices=["zstd", "zlib"], default="zstd", help="for recode")
    parser.add_argument(
        "--schema-suffix", default="", help="use schema bench_svc_<N><suffix>, e.g. _soak: the soak writes a day ahead"
    )
    args = parser.parse_args()
    global SCHEMA_SUFFIX
    SCHEMA_SUFFIX = args.schema_suffix
    print(f"{args.command} --slos {args.slos}: nproc {os.cpu_count()}, load {load_avg()}", flush=True)
    if args.command == "seed":
        seed(args.slos)
    elif args.command == "config":  # the config files only (the schema is seeded)
        write_config(args.slos)
    elif args.command == "startup":
        startup(args.slos, args.tree, args.runs)
    elif args.command == "http":
        http(args.slos, args.tree, args.seconds)
    elif args.command == "recode":
        recode(args.slos, args.compression)
    else:
        soak(args.slos, args.hours)


if __name__ == "__main__":
    main()
