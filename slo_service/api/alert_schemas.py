"""Request and response bodies of the alerting API (alerts, notifications, silences, on-call)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from slo_service.api.inputs import Instant, Name, Text
from slo_service.core.alerting.lifecycle import Alert
from slo_service.core.notify import OutboxMessage
from slo_service.core.oncall.schedule import Shift
from slo_service.core.routing.silences import Silence
from slo_service.pipeline.alerting import GroupEpisode


class AlertOut(BaseModel):
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: str = Field(description="pending, firing or resolved")
    active_since: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    last_evaluated_at: datetime
    values: dict[str, float | None] = Field(description="what triggered it: burn rates, thresholds, event counts")


def alert_out(alert: Alert) -> AlertOut:
    return AlertOut(
        fingerprint=alert.fingerprint,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        state=str(alert.state),
        active_since=alert.active_since,
        fired_at=alert.fired_at,
        resolved_at=alert.resolved_at,
        last_evaluated_at=alert.last_evaluated_at,
        values=dict(alert.values),
    )


class ByBody(BaseModel):
    by: Name = Field(description="who acts: a user name")


class GroupAckBody(BaseModel):
    group_key: Text = Field(min_length=1)
    by: Name


class AckOut(BaseModel):
    acknowledged_groups: list[str]
    by: str


class GroupOut(BaseModel):
    group_key: str
    receiver: str
    dedup_key: str
    started_at: datetime
    group_labels: dict[str, str]
    alerts: int = Field(description="alerts in the last notification of the group")
    fingerprints: list[str] = Field(description="fingerprints of those alerts")
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    escalation_level: int | None = Field(description="1 = first level; null without an escalation policy")
    oncall: list[str] = Field(default_factory=list, description="the people of the escalation level reached")
    escalation_paused_since: datetime | None = Field(
        default=None, description="every alert of the group silenced or inhibited since then: no escalation"
    )
    messages: list[str] = Field(
        default_factory=list, description="dedup keys of the messages sent for the group (updated on ack/resolve)"
    )


def group_out(episode: GroupEpisode) -> GroupOut:
    payload = episode.payload or {}
    return GroupOut(
        group_key=episode.group_key,
        receiver=episode.receiver,
        dedup_key=episode.dedup_key,
        started_at=episode.started_at,
        group_labels=dict(payload.get("groupLabels") or {}),
        alerts=len(payload.get("alerts") or []),
        fingerprints=[str(a["fingerprint"]) for a in payload.get("alerts") or [] if a.get("fingerprint")],
        acknowledged_by=episode.acknowledged_by,
        acknowledged_at=episode.acknowledged_at,
        escalation_level=episode.escalation_level + 1 if episode.escalation_level >= 0 else None,
        oncall=[str(c.get("user")) for c in (episode.latest_escalation().get("oncall") or [])],
        escalation_paused_since=episode.muted_since,
        messages=list(dict.fromkeys([episode.dedup_key, *episode.posts])),
    )


class NotificationOut(BaseModel):
    id: int | None
    receiver: str
    action: str
    dedup_key: str
    status: str = Field(description="pending, delivered or dead")
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def notification_out(message: OutboxMessage) -> NotificationOut:
    return NotificationOut(
        id=message.id,
        receiver=message.receiver,
        action=message.action,
        dedup_key=message.dedup_key,
        status=str(message.status),
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at,
        last_error=message.last_error,
        created_at=message.created_at,
        delivered_at=message.delivered_at,
    )


class SilenceIn(BaseModel):
    matchers: list[Text] = Field(
        min_length=1,
        max_length=50,
        description='Alertmanager matchers, all must match: slo="availability", severity=~"page|ticket"',
    )
    starts_at: Instant | None = Field(default=None, description="default now; a time without zone is UTC")
    ends_at: Instant | None = Field(default=None, description="give ends_at or duration; at most 365d after start")
    duration: str | None = Field(
        default=None, max_length=40, description="e.g. 2h, 30m, 1d, at most 365d; give ends_at or duration"
    )
    created_by: Name
    comment: Text = ""


class SilenceOut(BaseModel):
    id: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: str = Field(description="pending, active or expired")


def silence_out(silence: Silence, now: datetime) -> SilenceOut:
    return SilenceOut(
        id=silence.id,
        matchers=[str(m) for m in silence.matchers],
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        created_by=silence.created_by,
        comment=silence.comment,
        state=silence.state(now),
    )


class OnCallNowOut(BaseModel):
    schedule: str
    on_call: str | None = Field(description="null when nobody covers this instant")
    at: datetime


class ScheduleOut(BaseModel):
    schedule: str
    timezone: str
    layers: list[str]
    on_call: str | None
    at: datetime


class ShiftOut(BaseModel):
    member: str
    start: datetime
    end: datetime
    source: str = Field(description="the layer's name, or override")


def shift_out(shift: Shift) -> ShiftOut:
    return ShiftOut(member=shift.member, start=shift.start, end=shift.end, source=shift.source)


class ShiftsOut(BaseModel):
    schedule: str
    start: datetime
    end: datetime
    shifts: list[ShiftOut]


class SlackReply(BaseModel):
    text: str


class ReceivedOut(BaseModel):
    received: int
    transitions: list[dict[str, Any]] = Field(description="state changes the webhook caused")
