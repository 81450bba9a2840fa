"""Inhibit rules and silences."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_service.core.routing.inhibit import InhibitionIndex, InhibitRule, inhibited, parse_inhibit_rule
from slo_service.core.routing.silences import Silence, silenced_by
from slo_service.core.selector import Matcher

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

PAGE_INHIBITS_TICKET = InhibitRule(
    source_matchers=(Matcher("severity", "=", "page"),),
    target_matchers=(Matcher("severity", "=", "ticket"),),
    equal=("slo",),
)
# both sides match "severity=~page|ticket": the two-sided case
SAME_SIDE = InhibitRule(
    source_matchers=(Matcher("severity", "=~", "page|ticket"),),
    target_matchers=(Matcher("severity", "=~", "page|ticket"),),
    equal=("slo",),
)
DOWN_INHIBITS_ALL = InhibitRule(
    source_matchers=(Matcher("alertname", "=", "ServiceDown"),),
    target_matchers=(Matcher("alertname", "!=", "ServiceDown"),),
    equal=("service", "cluster"),
)

PAGE_A = {"alertname": "Burn", "severity": "page", "slo": "a"}
TICKET_A = {"alertname": "Burn", "severity": "ticket", "slo": "a"}
TICKET_B = {"alertname": "Burn", "severity": "ticket", "slo": "b"}
TICKET_NO_SLO = {"alertname": "Burn", "severity": "ticket"}
PAGE_NO_SLO = {"alertname": "Burn", "severity": "page"}
DOWN = {"alertname": "ServiceDown", "service": "ranker"}
LAT = {"alertname": "Latency", "service": "ranker"}
LAT_OTHER_CLUSTER = {"alertname": "Latency", "service": "ranker", "cluster": "eu"}

INHIBIT_CASES: list[tuple[str, InhibitRule, Mapping[str, str], list[Mapping[str, str]], bool]] = [
    ("page-inhibits-ticket-same-slo", PAGE_INHIBITS_TICKET, TICKET_A, [PAGE_A], True),
    ("not-across-slos", PAGE_INHIBITS_TICKET, TICKET_B, [PAGE_A], False),
    ("resolved-source-gone", PAGE_INHIBITS_TICKET, TICKET_A, [], False),
    ("target-not-matching", PAGE_INHIBITS_TICKET, PAGE_A, [PAGE_A, TICKET_A], False),
    ("missing-equal-label-both-sides", PAGE_INHIBITS_TICKET, TICKET_NO_SLO, [PAGE_NO_SLO], True),
    ("missing-on-one-side", PAGE_INHIBITS_TICKET, TICKET_NO_SLO, [PAGE_A], False),
    ("self-not-inhibited", SAME_SIDE, TICKET_A, [TICKET_A], False),
    ("two-sided-no-mutual", SAME_SIDE, TICKET_A, [TICKET_A, PAGE_A], False),
    ("multi-equal", DOWN_INHIBITS_ALL, LAT, [DOWN], True),
    ("multi-equal-differs", DOWN_INHIBITS_ALL, LAT_OTHER_CLUSTER, [DOWN], False),
    ("source-not-self", DOWN_INHIBITS_ALL, DOWN, [DOWN], False),
]


@pytest.mark.parametrize(
    ("rule", "target", "firing", "expected"), [c[1:] for c in INHIBIT_CASES], ids=[c[0] for c in INHIBIT_CASES]
)
def test_inhibits(
    rule: InhibitRule, target: Mapping[str, str], firing: list[Mapping[str, str]], expected: bool
) -> None:
    assert rule.inhibits(target, firing) is expected
    assert inhibited([rule], target, firing) is expected
    assert InhibitionIndex([rule], firing).inhibited(target) is expected


def test_index_with_several_rules_agrees_with_scan() -> None:
    rules = [PAGE_INHIBITS_TICKET, SAME_SIDE, DOWN_INHIBITS_ALL]
    alerts = [PAGE_A, TICKET_A, TICKET_B, TICKET_NO_SLO, PAGE_NO_SLO, DOWN, LAT, LAT_OTHER_CLUSTER]
    index = InhibitionIndex(rules, alerts)
    for target in alerts:
        assert index.inhibited(target) == inhibited(rules, target, alerts), target


def test_rule_needs_both_sides() -> None:
    with pytest.raises(ValueError, match="source_matchers and target_matchers"):
        InhibitRule((), (Matcher("a", "=", "b"),))


def silence(matchers: tuple[Matcher, ...], start: timedelta = timedelta(0), hours: int = 2) -> Silence:
    return Silence("s1", matchers, T0 + start, T0 + start + timedelta(hours=hours), "alice", "deploy")


ML = (Matcher("team", "=", "ml"),)
REGEX = (Matcher("service", "=~", "rank.*"), Matcher("severity", "!=", "page"))

SILENCE_CASES = [
    ("active-match", silence(ML), {"team": "ml"}, T0 + timedelta(minutes=5), True),
    ("start-inclusive", silence(ML), {"team": "ml"}, T0, True),
    ("end-exclusive-expired", silence(ML), {"team": "ml"}, T0 + timedelta(hours=2), False),
    ("long-expired", silence(ML), {"team": "ml"}, T0 + timedelta(days=3), False),
    ("pending", silence(ML, start=timedelta(hours=1)), {"team": "ml"}, T0, False),
    ("no-match", silence(ML), {"team": "web"}, T0, False),
    ("regex-match", silence(REGEX), {"service": "ranker", "severity": "ticket"}, T0, True),
    ("regex-anchored", silence(REGEX), {"service": "xranker", "severity": "ticket"}, T0, False),
    ("regex-and-neq", silence(REGEX), {"service": "ranker", "severity": "page"}, T0, False),
]


@pytest.mark.parametrize(
    ("sil", "labels", "now", "expected"), [c[1:] for c in SILENCE_CASES], ids=[c[0] for c in SILENCE_CASES]
)
def test_silence_mutes(sil: Silence, labels: Mapping[str, str], now: datetime, expected: bool) -> None:
    assert sil.mutes(labels, now) is expected
    assert silenced_by(labels, [sil], now) == (["s1"] if expected else [])


def test_silence_states() -> None:
    s = silence(ML, start=timedelta(hours=1))
    assert [s.state(T0), s.state(T0 + timedelta(hours=1)), s.state(T0 + timedelta(hours=3))] == [
        "pending",
        "active",
        "expired",
    ]
    assert s.expired(T0 + timedelta(hours=3)) and not s.active(T0 + timedelta(hours=3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"matchers": ()}, "at least one matcher", id="no-matchers"),
        pytest.param({"matchers": (Matcher("a", "=~", ".*"),)}, "empty string", id="matches-everything"),
        pytest.param({"ends_at": T0}, "after starts_at", id="empty-window"),
        pytest.param({"created_by": " "}, "created_by", id="no-author"),
        pytest.param({"starts_at": datetime(2026, 1, 1)}, "aware", id="naive"),
    ],
)
def test_invalid_silences(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "id": "x",
        "matchers": ML,
        "starts_at": T0,
        "ends_at": T0 + timedelta(hours=1),
        "created_by": "bob",
        "comment": "",
    }
    with pytest.raises(ValueError, match=message):
        Silence(**{**base, **kwargs})  # type: ignore[arg-type]


_label_sets = st.lists(
    st.fixed_dictionaries(
        {"severity": st.sampled_from(["page", "ticket"])},
        optional={"slo": st.sampled_from(["a", "b"]), "alertname": st.sampled_from(["ServiceDown", "Burn"]),
                  "service": st.sampled_from(["x", "y"]), "cluster": st.sampled_from(["eu"])},
    ),
    max_size=8,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(firing=_label_sets, targets=_label_sets)
def test_index_equals_scan_property(firing: list[dict[str, str]], targets: list[dict[str, str]]) -> None:
    rules = [PAGE_INHIBITS_TICKET, SAME_SIDE, DOWN_INHIBITS_ALL]
    index = InhibitionIndex(rules, firing)
    for target in targets + firing:
        assert index.inhibited(target) == inhibited(rules, target, firing)


def test_parse_inhibit_rule() -> None:
    rule = parse_inhibit_rule(
        {"source_matchers": ['severity="page"'], "target_matchers": ["severity=ticket"], "equal": ["slo"]}
    )
    assert rule == PAGE_INHIBITS_TICKET
    with pytest.raises(ValueError, match="unknown field"):
        parse_inhibit_rule({"source_match": {"a": "b"}, "target_matchers": ["a=b"]})
    with pytest.raises(ValueError, match="source_matchers and target_matchers"):
        parse_inhibit_rule({"target_matchers": ["a=b"]})
    with pytest.raises(ValueError, match="equal must be a list"):
        parse_inhibit_rule({"source_matchers": ["a=b"], "target_matchers": ["a=c"], "equal": "slo"})
