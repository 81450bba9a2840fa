"""Soak of the demo: does a healthy demo stay silent, and does an incident tell its story in order?

Two modes:

    .venv/bin/python bench/soak_demo.py --simulated-hours 24 [--seeds 42 7 11]
        Time travel: the world of tests/unit/test_demo_soak.py (the seeded demo simulation, the example
        config, the real evaluator, alerting and delivery with the in-memory stores, a ManualClock)
        runs N healthy hours; counts every alert ever raised (pending included) and every notification.

    .venv/bin/python bench/soak_demo.py --healthy-minutes 60 [--story-minutes 20]
        Real time: starts `slo-service demo` as a subprocess on free ports (its own model server and
        demo webhook receiver, a fresh SQLite file), watches it healthy for N minutes (no NOTIFY line,
        no alert in GET /api/v1/alerts), triggers the incident (POST /incident), then checks the demo
        receiver's lines: a page, then the feature-freshness page, then the GPU page; acknowledges the
        first page with `slo-service alerts ack` and waits for the ACKNOWLEDGED line. It stops only the
        process it started, by its PID. The GPU page needs 30 minutes of history first (its low-traffic
        guard: half of its 1h window's slices), so keep --healthy-minutes at 30 or more.

Exit code 0 when every check passed; the last line says what was measured.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "slo-service.yaml"


def simulated(hours: float, seeds: list[int]) -> int:
    sys.path.insert(0, str(REPO))  # the soak world lives with the test that holds it
    from tests.unit.test_demo_soak import DemoWorld

    total_alerts = total_notes = 0
    for seed in seeds:
        started = time.perf_counter()
        world = DemoWorld(seed=seed)
        for hour in range(int(hours)):
            world.run(3600)
            print(f"seed {seed} hour {hour + 1}: alerts {len(world.seen)}, notifications {len(world.notifications())}")
        if hours % 1:
            world.run(round(hours % 1 * 3600))
        wall = time.perf_counter() - started
        burns = {
            key: round(max((w.burn_rate or 0.0) for w in st.windows.values()), 2)
            for key, st in sorted(world.runtime.statuses.items())
        }
        print(f"seed {seed}: highest burn rate of any window at the end: {burns}")
        for seen in world.seen.values():
            print(f"  ALERT at {seen.at}: {seen.alertname} {seen.slo} {seen.severity} {seen.state} {seen.values}")
        print(f"seed {seed}: {len(world.seen)} alerts, {len(world.notifications())} notifications ({wall:.1f} s)")
        total_alerts += len(world.seen)
        total_notes += len(world.notifications())
    print(
        f"False alerts in {hours:g} simulated healthy hours of the demo: {total_alerts} "
        f"(seeds {', '.join(map(str, seeds))}; notifications: {total_notes})"
    )
    return 0 if total_alerts == 0 and total_notes == 0 else 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Demo:
    """`slo-service demo` as a subprocess; its stdout lines (NOTIFY ...) are collected by a thread."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.model_port, self.sink_port = free_port(), free_port(), free_port()
        config = EXAMPLE.read_text()
        config = config.replace("127.0.0.1:9105", f"127.0.0.1:{self.model_port}")
        config = config.replace("127.0.0.1:9106", f"127.0.0.1:{self.sink_port}")
        config_path = workdir / "slo-service.yaml"
        config_path.write_text(config)
        self.log_path = workdir / "demo.log"
        cmd = [
            sys.executable, "-m", "slo_service", "demo", "--config", str(config_path),
            "--port", str(self.port), "--demo-port", str(self.model_port), "--alert-port", str(self.sink_port),
            "--database-url", f"sqlite:///{workdir / 'demo.db'}",
        ]  # fmt: skip
        env = {**os.environ, "SLO_SERVICE_DATA_DIR": str(workdir / "data"), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with open(self.log_path, "w") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                self.lines.append((time.monotonic(), line.rstrip("\n")))

    def notify_lines(self) -> list[tuple[float, str]]:
        return [(t, line.split(" NOTIFY ", 1)[1]) for t, line in self.lines if " NOTIFY " in line]

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slo-service demo exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"slo-service demo not ready after {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)  # only the process this script started
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._reader.join(timeout=5)


def _page(line: str, slo: str | None = None) -> bool:
    m = re.match(r"FIRING\s+fraud-detector/(\S+) .*severity=page", line)
    return bool(m) and (slo is None or m.group(1) == slo)  # type: ignore[union-attr]


def real_time(healthy_minutes: float, story_minutes: float) -> int:
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="soak-demo-") as tmp:
        demo = Demo(Path(tmp))
        try:
            demo.wait_ready()
            print(f"slo-service demo on {demo.url} (model server :{demo.model_port}, receiver :{demo.sink_port})")
            healthy_end = time.monotonic() + healthy_minutes * 60
            while time.monotonic() < healthy_end and demo.proc.poll() is None:
                time.sleep(min(30.0, max(0.0, healthy_end - time.monotonic())))
                alerts = httpx.get(f"{demo.url}/api/v1/alerts", timeout=10).json()
                left = (healthy_end - time.monotonic()) / 60
                print(f"healthy: {len(demo.notify_lines())} notifications, {len(alerts)} alerts ({left:.1f} min left)")
            alerts = httpx.get(f"{demo.url}/api/v1/alerts", timeout=10).json()
            healthy_notes = demo.notify_lines()
            if healthy_notes or alerts:
                problems.append(f"healthy phase raised {len(alerts)} alerts and {len(healthy_notes)} notifications")
                for a in alerts:
                    print(f"  ALERT {a['labels'].get('alertname')} {a['labels'].get('slo')} {a['state']} {a['values']}")
            incident_at = time.monotonic()
            httpx.post(f"http://127.0.0.1:{demo.model_port}/incident", timeout=10).raise_for_status()
            print("incident triggered (POST /incident: 15 minutes)")
            wanted = {"page": _page, "freshness": lambda s: _page(s, "feature-freshness")}
            wanted["gpu"] = lambda s: _page(s, "gpu-memory")
            found: dict[str, tuple[int, float]] = {}
            acked = False
            deadline = incident_at + story_minutes * 60
            while time.monotonic() < deadline and demo.proc.poll() is None:
                notes = demo.notify_lines()[len(healthy_notes) :]
                for name, match in wanted.items():
                    if name not in found:
                        hit = next(((i, t) for i, (t, s) in enumerate(notes) if match(s)), None)
                        if hit is not None:
                            found[name] = hit
                            print(f"{(hit[1] - incident_at) / 60:5.1f} min  {name}: {notes[hit[0]][1]}")
                if "page" in found and not acked:
                    acked = _ack_first_page(demo)
                if len(found) == len(wanted) and any(s.startswith("ACKNOWLEDGED") for _, s in notes):
                    break
                time.sleep(2)
            notes = demo.notify_lines()[len(healthy_notes) :]
            for t, s in notes:
                print(f"  {(t - incident_at) / 60:5.1f} min  NOTIFY {s}")
            missing = [name for name in wanted if name not in found]
            if missing:
                problems.append(f"no {', '.join(missing)} notification within {story_minutes:g} minutes")
            order = [found[n][0] for n in wanted if n in found]
            if order != sorted(order):
                problems.append(f"out of order: {found}")
            if not any(s.startswith("ACKNOWLEDGED") for _, s in notes):
                problems.append("no ACKNOWLEDGED line after `slo-service alerts ack`")
            subprocess.run([sys.executable, "-m", "slo_service", "alerts", "--url", demo.url], check=False)
        finally:
            demo.stop()
            print(f"stopped slo-service demo (pid {demo.proc.pid}); its output was in {demo.log_path}")
    for p in problems:
        print(f"PROBLEM: {p}")
    verdict = "story told in order" if not problems else f"{len(problems)} problem(s)"
    print(f"Real-time soak: {healthy_minutes:g} healthy minutes, then the incident: {verdict}")
    return 0 if not problems else 1


def _ack_first_page(demo: Demo) -> bool:
    firing = httpx.get(f"{demo.url}/api/v1/alerts", params={"state": "firing", "severity": "page"}, timeout=10)
    items = firing.json()
    if not items:
        return False
    fp = items[-1]["fingerprint"]  # the oldest firing page
    cmd = [sys.executable, "-m", "slo_service", "alerts", "ack", fp, "--by", "soak", "--url", demo.url]
    # the demo reads without a token; acting takes the admin token it wrote to its data directory
    env = {**os.environ, "SLO_SERVICE_TOKEN_FILE": str(demo.log_path.parent / "data" / "demo-admin-token")}
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    print(f"slo-service alerts ack {fp[:12]} --by soak: {result.stdout.strip() or result.stderr.strip()}")
    return result.returncode == 0


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # `kill PID` of this script: the finally blocks stop the demo it started


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--simulated-hours", type=float, help="time travel: this many healthy hours")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42], help="time travel: simulation seeds (42: demo)")
    parser.add_argument("--healthy-minutes", type=float, default=60.0, help="real time: healthy minutes first")
    parser.add_argument("--story-minutes", type=float, default=20.0, help="real time: how long the story may take")
    args = parser.parse_args()
    if args.simulated_hours is not None:
        return simulated(args.simulated_hours, args.seeds)
    return real_time(args.healthy_minutes, args.story_minutes)


if __name__ == "__main__":
    sys.exit(main())
