"""The tick-driven dispatcher: group_wait, group_interval, repeat_interval, resolved, muting, state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_service.core.routing.grouping import Dispatcher, Notification, RoutableAlert
from slo_service.core.routing.inhibit import InhibitRule
from slo_service.core.routing.silences import Silence
from slo_service.core.routing.time_intervals import TimeInterval, parse_time_interval
from slo_service.core.routing.tree import Route
from slo_service.core.selector import Matcher

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # a Friday
S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)

ROOT = Route(
    receiver="default",
    group_by=("slo",),
    routes=(
        Route(receiver="pager", matchers=(Matcher("severity", "=", "page"),), continue_=True),
        Route(
            receiver="business",
            matchers=(Matcher("team", "=", "biz"),),
            active_time_intervals=("business",),
        ),
        Route(receiver="quiet", matchers=(Matcher("team", "=", "quiet"),), mute_time_intervals=("weekend",)),
    ),
)
INTERVALS: dict[str, TimeInterval | Sequence[TimeInterval]] = {
    "business": parse_time_interval(
        {"weekdays": ["monday:friday"], "times": [{"start_time": "09:00", "end_time": "17:00"}]}
    ),
    "weekend": [parse_time_interval({"weekdays": ["saturday:sunday"]})],
}
RULES = [
    InhibitRule((Matcher("severity", "=", "page"),), (Matcher("severity", "=", "ticket"),), ("slo",)),
]


def alert(fp: str, slo: str = "a", start: datetime = T0, end: datetime | None = None, **labels: str) -> RoutableAlert:
    return RoutableAlert(fp, {"slo": slo, **labels}, start, end)


def new(**kw: object) -> Dispatcher:
    return Dispatcher(ROOT, INTERVALS, RULES, kw.get("send_resolved", {"default": True}))  # type: ignore[arg-type]


Event = tuple[timedelta, str, tuple[str, ...], tuple[str, ...]]


def summary(at: datetime, notes: Sequence[Notification]) -> list[Event]:
    return [
        (
            at - T0,
            n.receiver,
            tuple(a.fingerprint for a in n.alerts if not a.resolved(at)),
            tuple(a.fingerprint for a in n.alerts if a.resolved(at)),
        )
        for n in notes
    ]


def run(
    d: Dispatcher, steps: Sequence[tuple[timedelta, list[RoutableAlert]]], silences: Sequence[Silence] = ()
) -> list[Event]:
    out: list[Event] = []
    for offset, alerts in steps:
        out += summary(T0 + offset, d.tick(alerts, silences, T0 + offset))
    return out


def every(
    step: timedelta, until: timedelta, alerts: list[RoutableAlert], start: timedelta = timedelta(0)
) -> list[tuple[timedelta, list[RoutableAlert]]]:
    out = []
    t = start
    while t <= until:
        out.append((t, alerts))
        t += step
    return out


A = alert("fa")
B = alert("fb", start=T0 + M)
A_RES = alert("fa", end=T0 + 7 * M)
B_OTHER_SLO = alert("fb", slo="b")

SCENARIOS: list[tuple[str, list[tuple[timedelta, list[RoutableAlert]]], dict[str, bool], list[Event]]] = [
    ("group-wait-then-first", every(5 * S, 60 * S, [A]), {}, [(30 * S, "default", ("fa",), ())]),
    (
        "old-alert-skips-group-wait",
        [(timedelta(0), [alert("fa", start=T0 - H)])],
        {},
        [(timedelta(0), "default", ("fa",), ())],
    ),
    (
        "new-alert-waits-for-group-interval",
        [*every(10 * S, 50 * S, [A]), *every(10 * S, 6 * M, [A, B], start=60 * S)],
        {},
        [(30 * S, "default", ("fa",), ()), (5 * M + 30 * S, "default", ("fa", "fb"), ())],
    ),
    (
        "separate-groups-per-slo",
        [(timedelta(0), [A, B_OTHER_SLO]), (30 * S, [A, B_OTHER_SLO])],
        {},
        [(30 * S, "default", ("fa",), ()), (30 * S, "default", ("fb",), ())],
    ),
    (
        "repeat-interval-unchanged",
        every(30 * S, 9 * H, [A]),
        {},
        [(30 * S, "default", ("fa",), ()), (4 * H + 30 * S, "default", ("fa",), ()),
         (8 * H + 30 * S, "default", ("fa",), ())],
    ),
    (
        "resolved-notification-then-removed",
        [*every(30 * S, 6 * M, [A]), *every(30 * S, 20 * M, [A_RES], start=7 * M)],
        {"default": True},
        [(30 * S, "default", ("fa",), ()), (10 * M + 30 * S, "default", (), ("fa",))],
    ),
    (
        "no-resolved-notification-without-send-resolved",
        [*every(30 * S, 6 * M, [A]), *every(30 * S, 20 * M, [A_RES], start=7 * M)],
        {"default": False},
        [(30 * S, "default", ("fa",), ())],
    ),
    (
        "vanished-alert-counts-as-resolved",
        [*every(30 * S, 6 * M, [A]), *every(30 * S, 20 * M, [], start=7 * M)],
        {"default": True},
        [(30 * S, "default", ("fa",), ()), (10 * M + 30 * S, "default", (), ("fa",))],
    ),
    (
        "partial-resolve-sent-with-firing",
        [*every(30 * S, 6 * M, [A, alert("fb")]), *every(30 * S, 11 * M, [A_RES, alert("fb")], start=7 * M)],
        {"default": True},
        [(30 * S, "default", ("fa", "fb"), ()), (10 * M + 30 * S, "default", ("fb",), ("fa",))],
    ),
    (
        "fired-and-resolved-before-group-wait",
        [(timedelta(0), [A]), (10 * S, [alert("fa", end=T0 + 5 * S)]), (40 * S, [alert("fa", end=T0 + 5 * S)])],
        {"default": True},
        [],
    ),
    (
        "continue-sends-to-both",
        [(timedelta(0), [alert("fp", severity="page", team="quiet")]),
         (30 * S, [alert("fp", severity="page", team="quiet")])],
        {},
        [(30 * S, "pager", ("fp",), ()), (30 * S, "quiet", ("fp",), ())],
    ),
    (
        "inhibited-ticket-not-sent",
        [(timedelta(0), [alert("fp", severity="page", team="x"), alert("ft", severity="ticket")]),
         (30 * S, [alert("fp", severity="page", team="x"), alert("ft", severity="ticket")]),
         (10 * M, [alert("fp", severity="page", team="x"), alert("ft", severity="ticket")])],
        {},
        [(30 * S, "pager", ("fp",), ())],
    ),
    (
        "inhibition-ends-when-source-resolves",
        [(timedelta(0), [alert("fp", severity="page"), alert("ft", severity="ticket")]),
         (30 * S, [alert("fp", severity="page"), alert("ft", severity="ticket")]),
         (M, [alert("fp", severity="page", end=T0 + M), alert("ft", severity="ticket")]),
         (5 * M + 30 * S, [alert("fp", severity="page", end=T0 + M), alert("ft", severity="ticket")])],
        {"default": False, "pager": False},
        [(30 * S, "pager", ("fp",), ()), (5 * M + 30 * S, "default", ("ft",), ())],
    ),
    (
        "active-interval-outside-hours-not-sent",  # Friday 10:00 is inside, 17:00 is outside
        [(timedelta(0), [alert("fz", team="biz")]), (30 * S, [alert("fz", team="biz")]),
         (7 * H, [alert("fy", slo="b", team="biz", start=T0 + 7 * H)]),
         (7 * H + 30 * S, [alert("fy", slo="b", team="biz", start=T0 + 7 * H)])],
        {},
        [(30 * S, "business", ("fz",), ())],
    ),
    (
        "mute-interval-weekend",  # Saturday: muted; Monday 00:00: sent at the next group flush
        [(14 * H, [alert("fq", team="quiet", start=T0 + 14 * H)]),
         (14 * H + 30 * S, [alert("fq", team="quiet", start=T0 + 14 * H)]),
         (62 * H + 4 * M, [alert("fq", team="quiet", start=T0 + 14 * H)])],
        {},
        [(62 * H + 4 * M, "quiet", ("fq",), ())],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("steps", "send_resolved", "expected"), [c[1:] for c in SCENARIOS], ids=[c[0] for c in SCENARIOS]
)
def test_dispatch(
    steps: list[tuple[timedelta, list[RoutableAlert]]], send_resolved: dict[str, bool], expected: list[Event]
) -> None:
    d = Dispatcher(ROOT, INTERVALS, RULES, send_resolved)
    assert run(d, steps) == expected


def _silence(matchers: tuple[Matcher, ...], start: datetime, end: datetime) -> Silence:
    return Silence("s", matchers, start, end, "alice", "maintenance")


def test_silenced_alert_not_sent_until_silence_expires() -> None:
    sil = _silence((Matcher("slo", "=", "a"), Matcher("service", "=~", "rank.*")), T0 - H, T0 + 20 * M)
    a1, a2 = alert("f1", service="ranker"), alert("f2", service="api")
    d = new()
    events = run(d, every(30 * S, 30 * M, [a1, a2]), [sil])
    assert events == [
        (30 * S, "default", ("f2",), ()),  # f1 silenced
        (20 * M + 30 * S, "default", ("f1", "f2"), ()),  # the silence expired at 20m: f1 is new
    ]


def test_all_silenced_sends_nothing() -> None:
    sil = _silence((Matcher("slo", "=", "a"),), T0, T0 + 10 * H)
    assert run(new(), every(M, 5 * H, [A]), [sil]) == []


def test_missing_time_interval_rejected() -> None:
    with pytest.raises(ValueError, match="undefined time interval 'business'"):
        Dispatcher(ROOT, {"weekend": INTERVALS["weekend"]})


def test_group_key_and_labels() -> None:
    d = new()
    d.tick([alert("f1", severity="page")], [], T0)
    (note,) = [n for n in d.tick([alert("f1", severity="page")], [], T0 + 30 * S) if n.receiver == "pager"]
    assert note.group_key == "0:pager:{slo='a'}"
    assert note.group_labels == {"slo": "a"}
    assert (note.firing, note.resolved) == (1, 0)
    assert note.route.path == (0,)
    assert d.groups() == {"0:pager:{slo='a'}": ("f1",)}
    assert d.next_flush_at() == T0 + 5 * M + 30 * S
    assert new().next_flush_at() is None


def test_state_round_trip_no_repage_and_repeat_kept() -> None:
    d = new()
    a1, a2 = alert("f1"), alert("f2", slo="b", end=None)
    run(d, every(10 * S, 2 * M, [a1, a2]))
    state = json.loads(json.dumps(d.state()))
    restored = Dispatcher.from_state(state, ROOT, INTERVALS, RULES, {"default": True})
    assert restored.state() == state
    # after the restart: nothing is re-sent, and the repeat interval is still counted from the first send
    later = [(t, [a1, a2]) for t in (3 * M, 10 * M, 4 * H, 4 * H + 30 * S, 4 * H + 5 * M)]
    assert run(restored, later) == [
        (4 * H + 5 * M, "default", ("f1",), ()),
        (4 * H + 5 * M, "default", ("f2",), ()),
    ]


def test_state_restores_members_for_resolved_notification() -> None:
    d = new()
    run(d, every(10 * S, M, [A]))
    restored = Dispatcher.from_state(json.loads(json.dumps(d.state())), ROOT, INTERVALS, RULES, {"default": True})
    # the alert disappears while we were down: the restored group still sends its resolved notification
    assert run(restored, [(10 * M, [])]) == [(10 * M, "default", (), ("fa",))]
    assert restored.state()["groups"] == []


@pytest.mark.parametrize(
    "state",
    [pytest.param({"version": 99}, id="version"), pytest.param({"version": 1, "groups": [{"key": "k"}]}, id="fields")],
)
def test_bad_state(state: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Dispatcher.from_state(state, ROOT, INTERVALS)


def test_relabelled_alert_moves_group() -> None:
    d = new()
    run(d, every(10 * S, M, [alert("f1", slo="a")]))
    events = run(d, [(2 * M, [alert("f1", slo="b")]), (6 * M, [alert("f1", slo="b")])])
    # the new group starts with an alert older than group_wait: sent at once; the old group sees f1
    # vanish at 2m and sends it resolved at its next flush (due 5m30s, first tick after: 6m)
    assert events == [(2 * M, "default", ("f1",), ()), (6 * M, "default", (), ("f1",))]


POOL = [
    alert("p1", severity="page"),
    alert("p2", slo="b", severity="page", team="quiet"),
    alert("t1", severity="ticket"),
    alert("t2", slo="b", severity="ticket", team="biz"),
    alert("x1", slo="c"),
]


@st.composite
def timelines(draw: st.DrawFn) -> list[tuple[timedelta, list[RoutableAlert]]]:
    steps = []
    offset = timedelta(0)
    for _ in range(draw(st.integers(1, 25))):
        offset += timedelta(seconds=draw(st.sampled_from([5, 30, 60, 300, 3600, 4 * 3600])))
        alerts = []
        for a in POOL:
            state = draw(st.sampled_from(["firing", "resolved", "absent"]))
            if state == "firing":
                alerts.append(a)
            elif state == "resolved":
                alerts.append(replace(a, ends_at=T0 + offset))
        steps.append((offset, alerts))
    return steps


def _key_events(d: Dispatcher, steps: Sequence[tuple[timedelta, list[RoutableAlert]]]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for offset, alerts in steps:
        for n in d.tick(alerts, [], T0 + offset):
            out.append((offset, n.group_key, tuple((a.fingerprint, a.ends_at) for a in n.alerts)))
    return out


@settings(max_examples=150, deadline=None)
@given(steps=timelines(), cut=st.integers(0, 25))
def test_restart_from_state_changes_nothing(steps: list[tuple[timedelta, list[RoutableAlert]]], cut: int) -> None:
    cut = min(cut, len(steps))
    straight = new()
    expected = _key_events(straight, steps)
    first = new()
    got = _key_events(first, steps[:cut])
    restored = Dispatcher.from_state(json.loads(json.dumps(first.state())), ROOT, INTERVALS, RULES, {"default": True})
    got += _key_events(restored, steps[cut:])
    assert got == expected
    assert restored.state() == straight.state()


def test_silence_expiring_on_an_unchanged_notified_alert_waits_for_repeat_interval() -> None:
    # Notified at 30s, silenced from 10m to 1h, unchanged: Alertmanager's notification log still says
    # "fa was sent at 30s", so the next notification is the repeat at 4h30s, not the flush after 1h.
    sil = _silence((Matcher("slo", "=", "a"),), T0 + 10 * M, T0 + H)
    events = run(new(), every(30 * S, 5 * H, [A]), [sil])
    assert events == [(30 * S, "default", ("fa",), ()), (4 * H + 30 * S, "default", ("fa",), ())]


def test_alert_silenced_from_the_start_is_notified_at_the_first_flush_after_the_silence() -> None:
    sil = _silence((Matcher("slo", "=", "a"),), T0 - M, T0 + H)
    events = run(new(), every(30 * S, 2 * H, [A]), [sil])
    # never notified: it is new when the silence ends, sent at the group's next flush (group_interval 5m)
    assert events == [(H + 30 * S, "default", ("fa",), ())]


def test_muted_groups_are_the_ones_whose_every_firing_alert_is_silenced_or_inhibited() -> None:
    d = new()
    page, ticket, other = alert("fp", severity="page"), alert("ft", severity="ticket"), alert("fo", slo="b")
    d.tick([page, ticket, other], [], T0)
    assert d.groups() == {
        "0:pager:{slo='a'}": ("fp",),
        "root:default:{slo='a'}": ("ft",),
        "root:default:{slo='b'}": ("fo",),
    }
    assert d.muted_groups([], T0) == {"root:default:{slo='a'}"}  # the page inhibits the ticket
    sil = _silence((Matcher("slo", "=", "b"),), T0, T0 + H)
    assert d.muted_groups([sil], T0 + M) == {"root:default:{slo='a'}", "root:default:{slo='b'}"}
    assert d.muted_groups([sil], T0 + H) == {"root:default:{slo='a'}"}  # the silence expired
    d.tick([replace(page, ends_at=T0 + 2 * M), ticket, other], [], T0 + 2 * M)
    assert d.muted_groups([], T0 + 2 * M) == set()  # the page resolved: the ticket is no longer inhibited


def test_muted_groups_can_be_asked_about_some_groups_only() -> None:
    d = new()
    d.tick([alert("fp", severity="page"), alert("ft", severity="ticket"), alert("fo", slo="b")], [], T0)
    sil = _silence((Matcher("slo", "=", "b"),), T0, T0 + H)
    assert d.muted_groups([sil], T0, keys=["root:default:{slo='b'}", "gone"]) == {"root:default:{slo='b'}"}
    assert d.muted_groups([sil], T0, keys=["0:pager:{slo='a'}"]) == set()
