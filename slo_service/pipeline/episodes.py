"""Notification group episodes: what was sent for one firing episode of one group, and its escalation.

A GroupEpisode lives from a group's first firing notification to its resolve (or close). It is
persisted as JSON after every change, so a restart keeps escalation timers, acknowledgements and the
dedup keys of every message posted for the episode (each escalation level is a separate Slack post
that must be updated on acknowledge and resolve).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slo_service.core.alerting.config import AlertingConfig, ReceiverKind, ReceiverSpec
from slo_service.core.oncall.escalation import EscalationStep, escalation_step, resolve_targets


@dataclass
class GroupEpisode:
    """One firing episode of one notification group: what was sent, to whom, under which dedup keys."""

    group_key: str
    receiver: str
    dedup_key: str
    started_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    escalation_level: int = -1
    escalation_repetition: int = 0
    # dedup key -> the `escalation` block each message was sent with: the main message (dedup_key) and,
    # for receivers that edit their posts, each escalation post; all are updated on ack and resolve.
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    muted_since: datetime | None = None  # all its alerts silenced or inhibited since (escalation paused)
    muted_for: timedelta = timedelta(0)  # time spent muted before muted_since: escalation starts that late

    def to_json(self) -> dict[str, Any]:
        return {
            "group_key": self.group_key,
            "receiver": self.receiver,
            "dedup_key": self.dedup_key,
            "started_at": self.started_at.isoformat(),
            "payload": self.payload,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
            "escalation_level": self.escalation_level,
            "escalation_repetition": self.escalation_repetition,
            "posts": self.posts,
            "muted_since": self.muted_since.isoformat() if self.muted_since else None,
            "muted_for": self.muted_for.total_seconds(),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> GroupEpisode:
        return GroupEpisode(
            group_key=data["group_key"],
            receiver=data["receiver"],
            dedup_key=data["dedup_key"],
            started_at=datetime.fromisoformat(data["started_at"]),
            payload=dict(data.get("payload") or {}),
            acknowledged_by=data.get("acknowledged_by"),
            acknowledged_at=datetime.fromisoformat(data["acknowledged_at"]) if data.get("acknowledged_at") else None,
            escalation_level=int(data.get("escalation_level", -1)),
            escalation_repetition=int(data.get("escalation_repetition", 0)),
            posts={str(k): dict(v) for k, v in (data.get("posts") or {}).items()},
            muted_since=datetime.fromisoformat(data["muted_since"]) if data.get("muted_since") else None,
            muted_for=timedelta(seconds=float(data.get("muted_for") or 0)),
        )

    def fingerprints(self) -> set[str]:
        """The alerts of the last payload sent for this episode."""
        alerts = self.payload.get("alerts") or []
        return {str(a["fingerprint"]) for a in alerts if isinstance(a, Mapping) and a.get("fingerprint")}

    def latest_escalation(self) -> Mapping[str, Any]:
        """The escalation block of the highest level sent (empty without a policy)."""
        blocks = [b for b in self.posts.values() if b]
        return max(blocks, key=lambda b: (b.get("repetition", 0), b.get("level", 0)), default={})

    def set_muted(self, muted: bool, now: datetime) -> None:
        """Track time spent muted: escalation does not count it (a silence pauses the clock)."""
        if muted and self.muted_since is None:
            self.muted_since = now
        elif not muted and self.muted_since is not None:
            self.muted_for += max(now - self.muted_since, timedelta(0))
            self.muted_since = None

    def message_keys(self, spec: ReceiverSpec | None) -> list[str]:
        """The dedup keys of every message to update on acknowledge / resolve: the main one, plus the
        escalation posts where the receiver edits messages in place."""
        if spec is not None and edits_messages(spec):
            return list(dict.fromkeys([self.dedup_key, *self.posts]))
        return [self.dedup_key]


def dedup_key(receiver: str, group_key: str, started_at: datetime) -> str:
    """Stable per receiver, group and episode: redelivery is harmless, a new episode is a new incident."""
    raw = f"{receiver}\x00{group_key}\x00{started_at.isoformat()}".encode()
    return "slo-" + hashlib.sha256(raw).hexdigest()[:32]


def edits_messages(spec: ReceiverSpec) -> bool:
    """A receiver whose messages are edited in place (a Slack bot): each post is updated on ack/resolve.
    A Slack incoming webhook cannot edit, PagerDuty has one incident per dedup key, a webhook is a log."""
    return spec.kind is ReceiverKind.SLACK and not spec.settings.get("webhook_url")


def oncall_contacts(names: Sequence[str], users: Mapping[str, Mapping[str, str]]) -> list[dict[str, str | None]]:
    """Each on-call user with what receivers need to reach them: Slack member id, email, display name."""
    out: list[dict[str, str | None]] = []
    for user in names:
        info = users.get(user) or {}
        out.append(
            {"user": user, "name": info.get("name") or user, "slack": info.get("slack"), "email": info.get("email")}
        )
    return out


def escalation_block(config: AlertingConfig, policy_name: str, step: EscalationStep, now: datetime) -> dict[str, Any]:
    """The `escalation` field of a payload: level (1-based) of how many, policy, and who is on call."""
    policy = config.escalation_policies[policy_name]
    names = resolve_targets(step.targets, config.schedules, now)
    return {
        "policy": policy_name,
        "level": step.level_index + 1,
        "levels": len(policy.levels),
        "repetition": step.repetition,
        "exhausted": step.exhausted,
        "oncall": oncall_contacts(names, config.users),
    }


def current_step(config: AlertingConfig, episode: GroupEpisode, now: datetime) -> tuple[str, EscalationStep] | None:
    """The episode's escalation policy name and step now (time spent muted does not count); None
    when its receiver has no (known) escalation policy."""
    spec = config.receivers.get(episode.receiver)
    if spec is None or spec.escalation_policy is None:
        return None
    policy = config.escalation_policies.get(spec.escalation_policy)
    if policy is None:
        return None
    muted = episode.muted_for + (now - episode.muted_since if episode.muted_since is not None else timedelta(0))
    step = escalation_step(policy, episode.started_at + muted, episode.acknowledged_at, now)
    return spec.escalation_policy, step
