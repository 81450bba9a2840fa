"""Benchmark: Dispatcher.tick over N firing alerts routed through a 50-route tree.

    .venv/bin/python bench/bench_routing.py --alerts 1000 10000 --runs 5

Alerts vary over team x service x slo x severity. The tree has 50 routes besides the root (a page
route with `continue`, 4 other top-level routes, and 5 team routes with 8 children each); there are
3 inhibit rules (page inhibits ticket for the same slo and service, and two more) and 6 silences
(2 expired). For each N and each run a fresh Dispatcher goes through:

  cold    first tick: route every alert, open every group (nothing due yet)
  flush   tick at +30s: every group reaches group_wait; silences, inhibition, dedup, notifications
  idle    tick at +1m: alerts re-routed from the cache, nothing due
  steady  tick at +10m30s: every group flushes again, nothing changed, nothing sent
  muted   Dispatcher.muted_groups() after the steady tick over every group: which are silenced or
          inhibited as a whole (the alerting pipeline asks it each tick, for the groups that may
          still escalate only)

and prints the median time of each over --runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from slo_service.core.routing import Dispatcher, InhibitRule, RoutableAlert, Route, Silence
from slo_service.core.selector import Matcher

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
TEAMS = [f"team-{i}" for i in range(5)]
SERVICES = [f"svc-{i:02d}" for i in range(25)]
SLOS = [f"slo-{i:02d}" for i in range(40)]
SEVERITIES = ["page", "ticket"]


def make_alerts(n: int) -> list[RoutableAlert]:
    out = []
    for team in TEAMS:
        for service in SERVICES:
            for slo in SLOS:
                for severity in SEVERITIES:
                    labels = {
                        "alertname": "ErrorBudgetBurn",
                        "team": team,
                        "service": service,
                        "slo": slo,
                        "severity": severity,
                        "window": "1h",
                    }
                    out.append(RoutableAlert(f"{team}/{service}/{slo}/{severity}", labels, T0))
    return out[:n]


def make_tree() -> Route:
    teams = []
    for t, team in enumerate(TEAMS):
        children = [
            Route(
                receiver=f"{team}-svc{k}",
                matchers=(Matcher("service", "=~", f"svc-{k}[0-9]|svc-x{k}"),),
                group_by=("slo", "service"),
            )
            for k in range(3)
        ]
        children += [
            Route(receiver=f"{team}-sev-{k}", matchers=(Matcher("severity", "=", "ticket"), Matcher("window", "=", w)))
            for k, w in enumerate(["5m", "30m", "6h"])
        ]
        children += [
            Route(receiver=f"{team}-misc-{k}", matchers=(Matcher("slo", "!~", f"slo-{k}.*"),), continue_=k == 0)
            for k in range(2)
        ]
        teams.append(
            Route(
                receiver=f"{team}-default",
                matchers=(Matcher("team", "=", team),),
                group_by=("slo",),
                group_interval=timedelta(minutes=5 + t),
                routes=tuple(children),
            )
        )
    page = Route(receiver="pagerduty", matchers=(Matcher("severity", "=", "page"),), continue_=True)
    others = [
        Route(receiver="infra", matchers=(Matcher("alertname", "=", "ServiceDown"),)),
        Route(receiver="staging", matchers=(Matcher("env", "=~", "staging|dev"),)),
        Route(receiver="drift", matchers=(Matcher("alertname", "=~", "Drift.*"),), group_by=("...",)),
        Route(receiver="blackhole", matchers=(Matcher("team", "=", ""), Matcher("service", "=", ""))),
    ]
    root = Route(receiver="default", group_by=("alertname",), routes=(page, *others, *teams))
    assert len(_walk(root)) - 1 == 50, "tree size"  # page + 4 others + 5 teams x (1 + 8 children)
    return root


def _walk(route: Route) -> list[Route]:
    out = [route]
    for child in route.routes:
        out += _walk(child)
    return out


RULES = [
    InhibitRule((Matcher("severity", "=", "page"),), (Matcher("severity", "=", "ticket"),), ("slo", "service")),
    InhibitRule((Matcher("alertname", "=", "ServiceDown"),), (Matcher("alertname", "!=", "ServiceDown"),),
                ("service",)),
    InhibitRule((Matcher("slo", "=~", "slo-0[0-4]"), Matcher("severity", "=", "page")),
                (Matcher("team", "=", "team-4"),), ("slo",)),
]  # fmt: skip


def silence(i: int, matchers: tuple[Matcher, ...], expired: bool = False) -> Silence:
    start = T0 - timedelta(days=2) if expired else T0 - timedelta(hours=1)
    return Silence(f"s{i}", matchers, start, start + timedelta(days=1), "bench", "maintenance")


SILENCES = [
    silence(0, (Matcher("service", "=", "svc-03"),)),
    silence(1, (Matcher("slo", "=~", "slo-1[0-4]"), Matcher("team", "=", "team-1"))),
    silence(2, (Matcher("team", "=", "team-2"), Matcher("severity", "!=", "page"))),
    silence(3, (Matcher("service", "=~", "svc-2.*"), Matcher("slo", "=", "slo-33"))),
    silence(4, (Matcher("team", "=", "team-0"),), expired=True),
    silence(5, (Matcher("service", "=~", ".+"),), expired=True),
]


def one_run(alerts: list[RoutableAlert], root: Route) -> dict[str, float | int]:
    d = Dispatcher(root, {}, RULES, {})
    out: dict[str, float | int] = {}
    for name, offset in (
        ("cold", timedelta(0)),
        ("flush", timedelta(seconds=30)),
        ("idle", timedelta(minutes=1)),
        ("steady", timedelta(minutes=10, seconds=30)),
    ):
        began = time.perf_counter()
        notes = d.tick(alerts, SILENCES, T0 + offset)
        out[name] = time.perf_counter() - began
        out[f"{name}_notes"] = len(notes)
    began = time.perf_counter()
    out["muted_groups"] = len(d.muted_groups(SILENCES, T0 + timedelta(minutes=10, seconds=30)))
    out["muted"] = time.perf_counter() - began
    out["groups"] = len(d.groups())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = make_tree()
    print(
        f"{'alerts':>7} {'groups':>7} {'cold ms':>9} {'flush ms':>9} {'notes':>6} {'idle ms':>9} {'steady ms':>10}"
        f" {'muted ms':>9} {'muted':>6}"
    )
    for n in args.alerts:
        alerts = make_alerts(n)
        runs = [one_run(alerts, root) for _ in range(args.runs)]

        def med(key: str, runs: list[dict[str, float | int]] = runs) -> float:
            return statistics.median(float(r[key]) for r in runs) * 1000

        r0 = runs[0]
        print(
            f"{n:>7} {r0['groups']:>7} {med('cold'):>9.1f} {med('flush'):>9.1f} {r0['flush_notes']:>6} "
            f"{med('idle'):>9.1f} {med('steady'):>10.1f} {med('muted'):>9.1f} {r0['muted_groups']:>6}"
        )


if __name__ == "__main__":
    main()
