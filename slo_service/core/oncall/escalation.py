"""PagerDuty-style escalation policies: ordered levels, each waited on for `delay` before escalating
to the next if the incident is not acknowledged; the whole policy runs `repeat + 1` times."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from slo_service.core.oncall.schedule import Schedule, on_call


@dataclass(frozen=True)
class EscalationLevel:
    targets: tuple[str, ...]  # "schedule:<name>" or "user:<name>" (a bare name is a user)
    delay: timedelta  # time spent on this level before escalating

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("an escalation level needs at least one target")
        if self.delay <= timedelta(0):
            raise ValueError("escalation delay must be positive")
        for t in self.targets:
            kind, sep, name = t.partition(":")
            if sep and (kind not in ("schedule", "user") or not name):
                raise ValueError(f"escalation target {t!r} must be 'schedule:<name>' or 'user:<name>'")


@dataclass(frozen=True)
class EscalationPolicy:
    name: str
    levels: tuple[EscalationLevel, ...]
    repeat: int = 0  # extra passes through all levels after the first

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError(f"escalation policy {self.name!r} needs at least one level")
        if self.repeat < 0:
            raise ValueError(f"escalation policy {self.name!r}: repeat must be >= 0")


@dataclass(frozen=True)
class EscalationStep:
    level_index: int
    repetition: int  # 0 for the first pass
    targets: tuple[str, ...]
    next_escalation_at: datetime | None  # when the step next changes; None once acknowledged or exhausted
    exhausted: bool  # every level of every pass has timed out without an acknowledgement
    acknowledged: bool = False
    entered_at: datetime | None = None  # when this level (of this pass) was reached


def escalation_step(
    policy: EscalationPolicy, triggered_at: datetime, acknowledged_at: datetime | None, now: datetime
) -> EscalationStep:
    """Where the escalation of an incident triggered at `triggered_at` stands at `now`.

    Once acknowledged (acknowledged_at <= now) it stays on the level reached at acknowledgement.
    Before `triggered_at` it is on the first level.
    """
    acked = acknowledged_at is not None and acknowledged_at <= now
    at = acknowledged_at if acked and acknowledged_at is not None else now
    levels = policy.levels
    cycle = sum((lvl.delay for lvl in levels), timedelta(0))
    elapsed = max(at - triggered_at, timedelta(0))
    repetition = elapsed // cycle
    if repetition > policy.repeat:
        last = len(levels) - 1
        return EscalationStep(
            last, policy.repeat, levels[last].targets, None, True, acked, _entered(policy, triggered_at, policy.repeat)
        )
    pass_start = triggered_at + repetition * cycle
    offset = elapsed - repetition * cycle
    begin = timedelta(0)
    for i, lvl in enumerate(levels):
        if offset < begin + lvl.delay:
            nxt = None if acked else pass_start + begin + lvl.delay
            return EscalationStep(i, repetition, lvl.targets, nxt, False, acked, pass_start + begin)
        begin += lvl.delay
    raise AssertionError("unreachable: offset < cycle")  # pragma: no cover


def _entered(policy: EscalationPolicy, triggered_at: datetime, repetition: int) -> datetime:
    cycle = sum((lvl.delay for lvl in policy.levels), timedelta(0))
    return triggered_at + repetition * cycle + cycle - policy.levels[-1].delay


def resolve_targets(targets: Sequence[str], schedules: Mapping[str, Schedule], at: datetime) -> list[str]:
    """The users the targets mean at `at`, in order, without duplicates; a schedule with nobody on
    call contributes nobody. An unknown schedule raises KeyError."""
    users: list[str] = []
    for target in targets:
        kind, sep, name = target.partition(":")
        if not sep:
            kind, name = "user", target
        if kind == "schedule":
            if name not in schedules:
                raise KeyError(f"escalation target {target!r}: no schedule named {name!r}")
            user = on_call(schedules[name], at)
        elif kind == "user":
            user = name
        else:
            raise ValueError(f"escalation target {target!r} must be 'schedule:<name>' or 'user:<name>'")
        if user is not None and user not in users:
            users.append(user)
    return users
