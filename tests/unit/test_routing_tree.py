"""Routing tree: Alertmanager matching, `continue`, and inheritance of options."""

from __future__ import annotations

from datetime import timedelta

import pytest

from slo_service.core.routing.tree import ResolvedRoute, Route, RoutingTree, match_routes, parse_matcher, parse_route
from slo_service.core.selector import Matcher


def m(text: str) -> Matcher:
    for op in ("=~", "!~", "!=", "="):
        if op in text:
            label, value = text.split(op, 1)
            return Matcher(label, op, value)
    raise AssertionError(text)


TREE = Route(
    receiver="default",
    group_by=("alertname",),
    routes=(
        # 0: pages go to pagerduty, and continue so team routes also see them
        Route(receiver="pagerduty", matchers=(m("severity=page"),), continue_=True, group_wait=timedelta(seconds=10)),
        # 1: team ml, with nested routes
        Route(
            receiver="team-ml",
            matchers=(m("team=ml"),),
            group_by=("slo", "service"),
            repeat_interval=timedelta(hours=1),
            routes=(
                Route(matchers=(m("service=~ranker|recs"),), group_interval=timedelta(minutes=1)),  # 1.0
                Route(receiver="ml-tickets", matchers=(m("severity=ticket"),), group_by=("...",)),  # 1.1
            ),
        ),
        # 2: anything from staging that is not the ml team
        Route(receiver="staging", matchers=(m("env!=prod"), m("team!~ml|data"))),
        # 3: catch-all regex on slo names
        Route(receiver="slo-catchall", matchers=(m("slo=~.+-latency"),), continue_=True),
        Route(receiver="after-continue", matchers=(m("slo=~.+"),)),
    ),
)


CASES = [
    ("no-child-matches-root", {"env": "prod", "team": "data"}, [((), "default")]),
    ("page-continues-to-team", {"severity": "page", "team": "ml", "service": "api", "env": "prod"},
     [((0,), "pagerduty"), ((1,), "team-ml")]),
    ("nested-regex-inherits-receiver", {"team": "ml", "service": "ranker", "env": "prod"}, [((1, 0), "team-ml")]),
    ("regex-is-anchored", {"team": "ml", "service": "rankers", "env": "prod"}, [((1,), "team-ml")]),
    ("first-nested-wins-without-continue", {"team": "ml", "service": "recs", "severity": "ticket", "env": "prod"},
     [((1, 0), "team-ml")]),
    ("nested-own-receiver", {"team": "ml", "service": "api", "severity": "ticket", "env": "prod"},
     [((1, 1), "ml-tickets")]),
    ("not-equal-missing-label", {"team": "web"}, [((2,), "staging")]),
    ("negative-regex-excludes", {"team": "data", "env": "dev"}, [((), "default")]),
    ("continue-then-next-sibling", {"env": "prod", "team": "x", "slo": "api-latency"},
     [((3,), "slo-catchall"), ((4,), "after-continue")]),
    ("page-only-continue-falls-to-root-siblings", {"severity": "page", "env": "prod", "team": "data"},
     [((0,), "pagerduty")]),
]  # fmt: skip


@pytest.mark.parametrize(("labels", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_match_routes(labels: dict[str, str], expected: list[tuple[tuple[int, ...], str]]) -> None:
    got = match_routes(TREE, labels)
    assert [(r.path, r.receiver) for r in got] == expected


def _route(path: tuple[int, ...]) -> ResolvedRoute:
    return next(r for r in RoutingTree(TREE).routes() if r.path == path)


INHERIT = [
    ("root-defaults", (), frozenset({"alertname"}), timedelta(seconds=30), timedelta(minutes=5), timedelta(hours=4)),
    ("own-group-wait", (0,), frozenset({"alertname"}), timedelta(seconds=10), timedelta(minutes=5), timedelta(hours=4)),
    ("own-group-by-repeat", (1,), frozenset({"slo", "service"}), timedelta(seconds=30), timedelta(minutes=5),
     timedelta(hours=1)),
    ("grandchild-inherits-parent", (1, 0), frozenset({"slo", "service"}), timedelta(seconds=30),
     timedelta(minutes=1), timedelta(hours=1)),
    ("group-by-all", (1, 1), None, timedelta(seconds=30), timedelta(minutes=5), timedelta(hours=1)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "group_by", "wait", "interval", "repeat"), [c[1:] for c in INHERIT], ids=[c[0] for c in INHERIT]
)
def test_inheritance(
    path: tuple[int, ...], group_by: frozenset[str] | None, wait: timedelta, interval: timedelta, repeat: timedelta
) -> None:
    r = _route(path)
    assert (r.group_by, r.group_wait, r.group_interval, r.repeat_interval) == (group_by, wait, interval, repeat)


def test_group_labels_all_and_subset() -> None:
    labels = {"team": "ml", "service": "api", "severity": "ticket", "slo": "s1"}
    assert _route((1, 1)).group_labels(labels) == labels
    assert _route((1,)).group_labels(labels) == {"service": "api", "slo": "s1"}
    assert _route((1,)).group_labels({"service": "api"}) == {"service": "api"}


def test_root_matches_everything_even_with_matchers() -> None:
    root = Route(receiver="r", matchers=(m("x=y"),))
    assert [r.receiver for r in match_routes(root, {})] == ["r"]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: RoutingTree(Route(receiver=None)), id="root-without-receiver"),
        pytest.param(lambda: RoutingTree(Route("r", mute_time_intervals=("x",))), id="root-mute"),
        pytest.param(lambda: Route("r", group_by=("...", "a")), id="all-plus-labels"),
        pytest.param(lambda: Route("r", group_interval=timedelta(0)), id="zero-interval"),
    ],
)
def test_invalid_trees(bad: object) -> None:
    with pytest.raises(ValueError):
        bad()  # type: ignore[operator]


def test_mute_intervals_not_inherited() -> None:
    root = Route("r", routes=(Route(matchers=(m("a=1"),), mute_time_intervals=("night",), routes=(Route(),)),))
    (hit,) = match_routes(root, {"a": "1"})
    assert hit.path == (0, 0)
    assert hit.mute_time_intervals == ()


AM_CONFIG = {
    "receiver": "default",
    "group_by": ["alertname"],
    "routes": [
        {"receiver": "pagerduty", "matchers": ['severity="page"'], "continue": True, "group_wait": "10s"},
        {
            "receiver": "team-ml",
            "matchers": ["team=ml"],
            "group_by": ["slo", "service"],
            "repeat_interval": "1h",
            "routes": [
                {"matchers": ['service=~"ranker|recs"'], "group_interval": "1m"},
                {"receiver": "ml-tickets", "matchers": ["severity = ticket"], "group_by": ["..."]},
            ],
        },
        {"receiver": "staging", "matchers": ['env!="prod"', 'team!~"ml|data"']},
        {"receiver": "slo-catchall", "matchers": ['slo=~".+-latency"'], "continue": True},
        {"receiver": "after-continue", "matchers": ['slo=~".+"']},
    ],
}


def test_parse_route_equals_hand_built_tree() -> None:
    assert parse_route(AM_CONFIG) == TREE


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"receiver": "r", "match": {"a": "b"}}, r"route: unknown field\(s\) \['match'\]", id="unknown-key"
        ),
        pytest.param({"receiver": "r", "group_wait": "soon"}, "route: invalid duration", id="bad-duration"),
        pytest.param(
            {"receiver": "r", "routes": [{"matchers": ['a=~"("']}]}, r"route.routes\[0\]: invalid regex", id="bad-regex"
        ),
        pytest.param({"receiver": "r", "matchers": "a=b"}, "matchers must be a list", id="matchers-not-list"),
        pytest.param(
            {"receiver": "r", "routes": [{"matchers": ["nolabel"]}]}, r"routes\[0\]: expected one of", id="op"
        ),
        pytest.param({"receiver": 3}, "receiver must be a string", id="receiver-type"),
    ],
)
def test_parse_route_errors(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_route(spec)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('severity="page"', Matcher("severity", "=", "page"), id="quoted"),
        pytest.param("team=ml", Matcher("team", "=", "ml"), id="unquoted"),
        pytest.param(' service =~ "rank.*" ', Matcher("service", "=~", "rank.*"), id="spaces-regex"),
        pytest.param("a!~b|c", Matcher("a", "!~", "b|c"), id="unquoted-negative-regex"),
        pytest.param('{x!=""}', Matcher("x", "!=", ""), id="braced"),
    ],
)
def test_parse_matcher(text: str, expected: Matcher) -> None:
    assert parse_matcher(text) == expected


@pytest.mark.parametrize("text", ['a="1",b="2"', 'm{a="1"}', "a=~("])
def test_parse_matcher_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_matcher(text)
