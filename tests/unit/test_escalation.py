"""Escalation policies: levels with delays, acknowledgement, repeats, and target resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from slo_service.core.oncall.escalation import (
    EscalationLevel,
    EscalationPolicy,
    EscalationStep,
    escalation_step,
    resolve_targets,
)
from slo_service.core.oncall.schedule import Layer, Override, Rotation, Schedule

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)

POLICY = EscalationPolicy(
    "ml-critical",
    (
        EscalationLevel(("schedule:primary",), 15 * MIN),
        EscalationLevel(("schedule:secondary", "user:lead"), 30 * MIN),
    ),
    repeat=2,
)
L1, L2 = POLICY.levels[0].targets, POLICY.levels[1].targets

CASES: list[tuple[str, timedelta, timedelta | None, EscalationStep]] = [
    ("start-level-1", timedelta(0), None, EscalationStep(0, 0, L1, T0 + 15 * MIN, False, False, T0)),
    ("before-trigger-is-level-1", -5 * MIN, None, EscalationStep(0, 0, L1, T0 + 15 * MIN, False, False, T0)),
    ("still-level-1", 14 * MIN, None, EscalationStep(0, 0, L1, T0 + 15 * MIN, False, False, T0)),
    ("level-2-after-delay", 15 * MIN, None, EscalationStep(1, 0, L2, T0 + 45 * MIN, False, False, T0 + 15 * MIN)),
    ("repeat-1-back-to-level-1", 45 * MIN, None, EscalationStep(0, 1, L1, T0 + 60 * MIN, False, False, T0 + 45 * MIN)),
    ("last-pass-level-2", 120 * MIN, None,
     EscalationStep(1, 2, L2, T0 + 135 * MIN, False, False, T0 + 105 * MIN)),
    ("exhausted-after-repeats", 135 * MIN, None, EscalationStep(1, 2, L2, None, True, False, T0 + 105 * MIN)),
    ("exhausted-long-after", 3000 * MIN, None, EscalationStep(1, 2, L2, None, True, False, T0 + 105 * MIN)),
    ("ack-stops-on-level-1", 60 * MIN, 5 * MIN, EscalationStep(0, 0, L1, None, False, True, T0)),
    ("ack-on-level-2-stays", 90 * MIN, 20 * MIN, EscalationStep(1, 0, L2, None, False, True, T0 + 15 * MIN)),
    ("ack-in-future-ignored", 16 * MIN, 30 * MIN,
     EscalationStep(1, 0, L2, T0 + 45 * MIN, False, False, T0 + 15 * MIN)),
]  # fmt: skip


@pytest.mark.parametrize(("now", "ack", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_escalation_step(now: timedelta, ack: timedelta | None, expected: EscalationStep) -> None:
    assert escalation_step(POLICY, T0, None if ack is None else T0 + ack, T0 + now) == expected


def test_no_repeat_exhausts_after_one_pass() -> None:
    policy = EscalationPolicy("p", (EscalationLevel(("user:a",), 10 * MIN),))
    assert not escalation_step(policy, T0, None, T0 + 9 * MIN).exhausted
    step = escalation_step(policy, T0, None, T0 + 10 * MIN)
    assert step.exhausted and step.next_escalation_at is None


def test_steps_walk_in_order() -> None:
    seen = []
    now = T0
    while True:
        step = escalation_step(POLICY, T0, None, now)
        seen.append((step.repetition, step.level_index, step.exhausted))
        if step.next_escalation_at is None:
            break
        now = step.next_escalation_at
    assert seen == [(0, 0, False), (0, 1, False), (1, 0, False), (1, 1, False), (2, 0, False), (2, 1, False),
                    (2, 1, True)]  # fmt: skip


BERLIN_START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SCHEDULES = {
    "primary": Schedule(
        "primary",
        "UTC",
        (Layer("l", Rotation(("alice", "bob"), timedelta(days=7), BERLIN_START)),),
        (Override(T0, T0 + 60 * MIN, "carol"),),
    ),
    "secondary": Schedule(
        "secondary", "UTC", (Layer("l", Rotation(("lead", "dave"), timedelta(days=1), BERLIN_START)),)
    ),
    "empty": Schedule("empty", "UTC", ()),
}


@pytest.mark.parametrize(
    ("targets", "at", "expected"),
    [
        pytest.param(("schedule:primary",), T0, ["carol"], id="override"),
        pytest.param(("schedule:primary",), T0 + 61 * MIN, ["bob"], id="layer"),
        pytest.param(("schedule:secondary", "user:lead"), T0, ["lead"], id="dedup"),
        pytest.param(("user:zoe", "schedule:empty", "ann"), T0, ["zoe", "ann"], id="users-and-empty-schedule"),
    ],
)
def test_resolve_targets(targets: tuple[str, ...], at: datetime, expected: list[str]) -> None:
    assert resolve_targets(targets, SCHEDULES, at) == expected


def test_resolve_unknown() -> None:
    with pytest.raises(KeyError, match="no schedule named 'nope'"):
        resolve_targets(("schedule:nope",), SCHEDULES, T0)
    with pytest.raises(ValueError, match="must be"):
        resolve_targets(("team:x",), SCHEDULES, T0)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: EscalationLevel((), MIN), id="no-targets"),
        pytest.param(lambda: EscalationLevel(("user:a",), timedelta(0)), id="zero-delay"),
        pytest.param(lambda: EscalationLevel(("group:a",), MIN), id="bad-kind"),
        pytest.param(lambda: EscalationPolicy("p", ()), id="no-levels"),
        pytest.param(lambda: EscalationPolicy("p", (EscalationLevel(("a",), MIN),), repeat=-1), id="negative-repeat"),
    ],
)
def test_invalid(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]
