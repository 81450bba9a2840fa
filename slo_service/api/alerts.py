"""The alerting API: alerts, notification groups and the outbox, silences, on-call, Slack buttons and
Alertmanager's webhook. Thin: every action is an AlertingService call; errors are 404/409/422 naming
the field, never 500."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi import Query as Q
from fastapi.responses import JSONResponse

from slo_service.adapters.receivers.alertmanager_inbound import WEBHOOK_JSON_SCHEMA, parse_alertmanager_webhook
from slo_service.adapters.receivers.slack_interactive import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    IgnoredInteraction,
    SlackAction,
    SlackSignatureError,
    parse_interaction,
    verify_slack_signature,
)
from slo_service.api.alert_schemas import (
    AckOut,
    AlertOut,
    ByBody,
    GroupAckBody,
    GroupOut,
    NotificationOut,
    OnCallNowOut,
    ReceivedOut,
    ScheduleOut,
    ShiftsOut,
    SilenceIn,
    SilenceOut,
    SlackReply,
    alert_out,
    group_out,
    notification_out,
    shift_out,
    silence_out,
)
from slo_service.api.inputs import PathId, PathName, duration_param, instant_param, query_instant, query_name
from slo_service.core.actions.runs import InvalidTransition
from slo_service.core.alerting.conditions import AlertCondition
from slo_service.core.alerting.fingerprint import fingerprint
from slo_service.core.alerting.lifecycle import AlertState
from slo_service.core.alerting.ports import AlertQuery
from slo_service.core.notify import MessageStatus
from slo_service.core.oncall.schedule import Schedule, on_call, shifts
from slo_service.core.routing.silences import Silence
from slo_service.core.routing.tree import parse_matcher
from slo_service.core.selector import Matcher
from slo_service.pipeline.actions import ActionService
from slo_service.pipeline.alerting import EXTERNAL_SCOPE_LABEL, ActionQueued, AlertingService

router = APIRouter(prefix="/api/v1", tags=["alerting"])

MAX_ONCALL_RANGE = timedelta(days=90)
MAX_SILENCE = timedelta(days=365)
SLACK_SILENCE = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RETRY_SCAN_LIMIT = 100_000
QUEUED: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "sent to a replica that does not lead and stored for the leader, which did not apply it "
        "within the wait (a failover): it is applied once, later; do not send it again"
    }
}


def _alerting(request: Request) -> AlertingService:
    alerting: AlertingService | None = request.app.state.alerting
    if alerting is None:
        raise HTTPException(404, "alerting is not configured")
    return alerting


# --- alerts -------------------------------------------------------------------------------------------


@router.get("/alerts", response_model=list[AlertOut], summary="Alert episodes, newest first")
def list_alerts(
    request: Request,
    state: Annotated[AlertState | None, Q(description="pending, firing or resolved")] = None,
    service: Annotated[str | None, query_name("only alerts with this service label")] = None,
    severity: Annotated[str | None, query_name("only alerts with this severity label")] = None,
    since: Annotated[str | None, query_instant("evaluated at or after this time")] = None,
    limit: Annotated[int, Q(ge=1, le=10_000)] = 500,
) -> list[AlertOut]:
    alerting = _alerting(request)
    query = AlertQuery(
        state=state,
        service=service,
        severity=severity,
        since=instant_param(since, "since"),
        limit=limit,
    )
    return [alert_out(a) for a in alerting.alerts(query)]


@router.get("/alerts/{fingerprint}", response_model=list[AlertOut], summary="Every episode of one alert, newest first")
def alert_history(request: Request, fingerprint: PathName) -> list[AlertOut]:
    episodes = _alerting(request).history(fingerprint)
    if not episodes:
        raise HTTPException(404, f"fingerprint: no alert {fingerprint!r}")
    return [alert_out(a) for a in episodes]


@router.post(
    "/alerts/{fingerprint}/ack",
    response_model=AckOut,
    summary="Acknowledge every open notification group holding this alert: escalation stops",
    responses=QUEUED,
)
def ack_alert(request: Request, fingerprint: PathName, body: ByBody) -> AckOut:
    alerting = _alerting(request)
    if not alerting.history(fingerprint):
        raise HTTPException(404, f"fingerprint: no alert {fingerprint!r}")
    keys = alerting.acknowledge(fingerprint, body.by, "api")
    if not keys:
        raise HTTPException(404, f"fingerprint: alert {fingerprint!r} is in no open notification group")
    return AckOut(acknowledged_groups=keys, by=body.by)


@router.post(
    "/alerts/{fingerprint}/resolve",
    response_model=AlertOut,
    summary="Resolve a pending or firing alert by hand (it fires again if its condition still holds)",
    responses=QUEUED,
)
def resolve_alert(request: Request, fingerprint: PathName, body: ByBody) -> AlertOut:
    alerting = _alerting(request)
    episodes = alerting.history(fingerprint)
    if not episodes:
        raise HTTPException(404, f"fingerprint: no alert {fingerprint!r}")
    resolved = alerting.resolve(fingerprint, body.by)
    if resolved is None:
        raise HTTPException(409, f"fingerprint: alert {fingerprint!r} is not pending or firing ({episodes[0].state})")
    return alert_out(resolved)


# --- notification groups and the outbox -----------------------------------------------------------------


@router.get("/notifications/groups", response_model=list[GroupOut], summary="Open notification groups")
def list_groups(request: Request) -> list[GroupOut]:
    groups = sorted(_alerting(request).open_groups(), key=lambda g: g.started_at, reverse=True)
    return [group_out(g) for g in groups]


@router.post(
    "/notifications/groups/ack",
    response_model=AckOut,
    summary="Acknowledge one notification group",
    responses=QUEUED,
)
def ack_group(request: Request, body: GroupAckBody) -> AckOut:
    alerting = _alerting(request)
    if alerting.leads() and body.group_key not in {g.group_key for g in alerting.open_groups()}:
        raise HTTPException(404, f"group_key: no open notification group {body.group_key!r}")
    # Elsewhere the leader decides (this replica's groups may lag it): a group it does not hold acknowledges none.
    keys = alerting.acknowledge(body.group_key, body.by, "api")
    if body.group_key not in keys:
        raise HTTPException(404, f"group_key: no open notification group {body.group_key!r}")
    return AckOut(acknowledged_groups=keys, by=body.by)


@router.get(
    "/notifications",
    response_model=list[NotificationOut],
    summary="Outbox messages, newest first; status=dead is the dead-letter list",
)
def list_notifications(
    request: Request,
    status: Annotated[MessageStatus | None, Q(description="pending, delivered or dead")] = None,
    receiver: Annotated[str | None, query_name("only this receiver")] = None,
    limit: Annotated[int, Q(ge=1, le=10_000)] = 200,
) -> list[NotificationOut]:
    alerting = _alerting(request)
    messages = alerting.store.messages(status=status.value if status else None, receiver=receiver, limit=limit)
    return [notification_out(m) for m in messages]


@router.post(
    "/notifications/{message_id}/retry",
    response_model=NotificationOut,
    summary="Put a dead-lettered message back in the queue",
)
def retry_notification(request: Request, message_id: PathId) -> NotificationOut:
    alerting = _alerting(request)
    store = alerting.store
    if store.requeue(message_id, alerting.now()):
        found = _message(alerting, message_id)
        if found is not None:
            return found
        raise HTTPException(404, f"message_id: no message {message_id}")
    found = _message(alerting, message_id)
    if found is None:
        raise HTTPException(404, f"message_id: no message {message_id}")
    raise HTTPException(409, f"message_id: message {message_id} is {found.status}, only dead messages are retried")


def _message(alerting: AlertingService, message_id: int) -> NotificationOut | None:
    """The message with this id. The store lists newest first by id, so the rows down to `message_id`
    are at most newest - message_id + 1."""
    newest = alerting.store.messages(limit=1)
    if not newest or newest[0].id is None or message_id > newest[0].id or message_id < 1:
        return None
    depth = min(newest[0].id - message_id + 1, _RETRY_SCAN_LIMIT)
    for m in alerting.store.messages(limit=depth):
        if m.id == message_id:
            return notification_out(m)
    return None


# --- silences -----------------------------------------------------------------------------------------------


def _silence_problem(exc: ValueError, silence_id: str) -> str:
    text = str(exc).replace(f"silence {silence_id!r}: ", "").replace(f"silence {silence_id!r} ", "silence ")
    if "created_by" in text:
        return f"created_by: {text}"
    if "ends_at" in text or "starts_at" in text:
        return f"ends_at: {text}"
    if "matcher" in text:
        return f"matchers: {text}"
    return text


@router.post("/silences", response_model=SilenceOut, status_code=201, summary="Create a silence")
def create_silence(request: Request, body: SilenceIn) -> SilenceOut:
    alerting = _alerting(request)
    now = alerting.now()
    matchers: list[Matcher] = []
    for i, text in enumerate(body.matchers):
        try:
            matchers.append(parse_matcher(text))
        except ValueError as exc:
            raise HTTPException(422, f"matchers[{i}]: {exc}") from None
    starts_at = body.starts_at if body.starts_at is not None else now
    if body.ends_at is not None and body.duration is not None:
        raise HTTPException(422, "duration: give ends_at or duration, not both")
    if body.duration is not None:
        ends_at = starts_at + duration_param(body.duration, "duration", timedelta(seconds=1), MAX_SILENCE)
    elif body.ends_at is not None:
        ends_at = body.ends_at
    else:
        raise HTTPException(422, "ends_at: give ends_at or duration")
    if ends_at <= now:
        raise HTTPException(422, "ends_at: the silence would already be over")
    if ends_at - max(starts_at, now) > MAX_SILENCE:
        raise HTTPException(422, f"ends_at: a silence lasts at most {MAX_SILENCE.days} days")
    silence_id = uuid.uuid4().hex
    try:
        silence = Silence(silence_id, tuple(matchers), starts_at, ends_at, body.created_by.strip(), body.comment)
    except ValueError as exc:
        raise HTTPException(422, _silence_problem(exc, silence_id)) from None
    alerting.add_silence(silence)
    return silence_out(silence, now)


@router.get("/silences", response_model=list[SilenceOut], summary="Silences, latest start first")
def list_silences(
    request: Request,
    state: Annotated[Literal["pending", "active", "expired"] | None, Q(description="default all")] = None,
    limit: Annotated[int, Q(ge=1, le=10_000)] = 500,
) -> list[SilenceOut]:
    alerting = _alerting(request)
    now = alerting.now()
    items = alerting.store.silences(include_expired_after=_EPOCH)
    chosen = [s for s in items if state is None or s.state(now) == state]
    chosen.sort(key=lambda s: (s.starts_at, s.id), reverse=True)
    return [silence_out(s, now) for s in chosen[:limit]]


def _find_silence(alerting: AlertingService, silence_id: str) -> Silence:
    for s in alerting.store.silences(include_expired_after=_EPOCH):
        if s.id == silence_id:
            return s
    raise HTTPException(404, f"silence_id: no silence {silence_id!r}")


@router.get("/silences/{silence_id}", response_model=SilenceOut, summary="One silence")
def get_silence(request: Request, silence_id: PathName) -> SilenceOut:
    alerting = _alerting(request)
    return silence_out(_find_silence(alerting, silence_id), alerting.now())


@router.delete("/silences/{silence_id}", response_model=SilenceOut, summary="Expire a silence now")
def expire_silence(request: Request, silence_id: PathName) -> SilenceOut:
    alerting = _alerting(request)
    if not alerting.expire_silence(silence_id):
        raise HTTPException(404, f"silence_id: no silence {silence_id!r}")
    return silence_out(_find_silence(alerting, silence_id), alerting.now())


# --- on-call ------------------------------------------------------------------------------------------------


def _schedule(alerting: AlertingService, name: str) -> Schedule:
    schedules = alerting.config.schedules
    found = schedules.get(name)
    if found is None:
        raise HTTPException(404, f"schedule: unknown schedule {name!r}; known: {sorted(schedules)}")
    return found


@router.get("/oncall", response_model=list[ScheduleOut], summary="Every schedule with who is on call now")
def list_oncall(request: Request) -> list[ScheduleOut]:
    alerting = _alerting(request)
    now = alerting.now()
    return [
        ScheduleOut(
            schedule=name,
            timezone=s.timezone,
            layers=[layer.name for layer in s.layers],
            on_call=on_call(s, now),
            at=now,
        )
        for name, s in sorted(alerting.config.schedules.items())
    ]


@router.get("/oncall/{schedule}/now", response_model=OnCallNowOut, summary="Who is on call now")
def oncall_now(request: Request, schedule: PathName) -> OnCallNowOut:
    alerting = _alerting(request)
    found = _schedule(alerting, schedule)
    now = alerting.now()
    return OnCallNowOut(schedule=schedule, on_call=on_call(found, now), at=now)


@router.get("/oncall/{schedule}", response_model=ShiftsOut, summary="The shifts of a schedule over a range")
def oncall_shifts(
    request: Request,
    schedule: PathName,
    start: Annotated[str | None, query_instant("default now")] = None,
    end: Annotated[str | None, query_instant("default start + 7d; at most 90d after start")] = None,
) -> ShiftsOut:
    alerting = _alerting(request)
    found = _schedule(alerting, schedule)
    start_t = instant_param(start, "start") or alerting.now()
    end_t = instant_param(end, "end") or start_t + timedelta(days=7)
    if end_t <= start_t:
        raise HTTPException(422, "end: must be after start")
    if end_t - start_t > MAX_ONCALL_RANGE:
        raise HTTPException(422, f"end: the range is at most {MAX_ONCALL_RANGE.days} days")
    return ShiftsOut(
        schedule=schedule, start=start_t, end=end_t, shifts=[shift_out(s) for s in shifts(found, start_t, end_t)]
    )


# --- Slack buttons --------------------------------------------------------------------------------------------


@router.post(
    "/slack/interactions",
    response_model=SlackReply,
    summary="Slack interactivity: the Acknowledge and Silence 1h buttons of alert messages, Approve and Deny of runs",
    responses={401: {"description": "not provably from Slack"}, 503: {"description": "no signing secret"}},
)
async def slack_interactions(request: Request) -> Any:
    alerting = _alerting(request)
    secret: str | None = request.app.state.slack_signing_secret
    if not secret:
        raise HTTPException(503, "Slack interactivity is not configured: set SLO_SERVICE_SLACK_SIGNING_SECRET")
    raw = await request.body()
    try:
        verify_slack_signature(
            secret,
            request.headers.get(TIMESTAMP_HEADER),
            raw,
            request.headers.get(SIGNATURE_HEADER),
            alerting.now(),
        )
    except SlackSignatureError as exc:
        return JSONResponse(status_code=401, content={"message": exc.reason})
    try:
        action = parse_interaction(raw)
    except IgnoredInteraction:
        return SlackReply(text="")
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if action.action in ("approve", "deny"):
        return await _decide_run(request, action)
    if action.action == "ack":
        try:
            keys = await asyncio.to_thread(alerting.acknowledge, action.group_key, action.user, "slack")
        except ActionQueued:
            return SlackReply(text=f"Acknowledgement by {action.user} stored: it takes effect in a moment.")
        if not keys:
            return SlackReply(text="This alert group is no longer open: nothing to acknowledge.")
        return SlackReply(text=f"Acknowledged by {action.user}.")
    group = next((g for g in alerting.open_groups() if g.group_key == action.group_key), None)
    labels: dict[str, str] = dict((group.payload.get("groupLabels") or {}) if group else {})
    if group is None:
        return SlackReply(text="This alert group is no longer open: nothing to silence.")
    if not labels:
        return SlackReply(text="This alert group has no group labels to silence on; create a silence by hand.")
    now = alerting.now()
    try:
        silence = Silence(
            uuid.uuid4().hex,
            tuple(Matcher(k, "=", v) for k, v in sorted(labels.items())),
            now,
            now + SLACK_SILENCE,
            action.user,
            "silenced from Slack",
        )
    except ValueError as exc:
        return SlackReply(text=f"Could not silence this group: {exc}")
    await asyncio.to_thread(alerting.add_silence, silence)
    matchers = ", ".join(str(m) for m in silence.matchers)
    return SlackReply(text=f"Silenced for 1h by {action.user} ({matchers}); silence id {silence.id}.")


async def _decide_run(request: Request, action: SlackAction) -> SlackReply:
    """Approve or deny an action run from its Slack buttons; the Slack user is recorded as who decided."""
    actions: ActionService | None = getattr(request.app.state, "actions", None)
    if actions is None:
        return SlackReply(text="Response actions are not enabled in this service: nothing to approve.")
    run_id, who = int(action.group_key), f"{action.user} (slack)"
    try:
        if action.action == "approve":
            run = await asyncio.to_thread(actions.approve, run_id, who)
        else:
            run = await asyncio.to_thread(actions.deny, run_id, who, "denied from Slack")
    except KeyError:
        return SlackReply(text=f"There is no action run {run_id}.")
    except InvalidTransition as exc:
        return SlackReply(text=f"Run {run_id} was not changed: {exc}.")
    verb = "Approved" if action.action == "approve" else "Denied"
    then = "it is sent next" if action.action == "approve" else "it is never sent"
    return SlackReply(text=f"{verb} by {action.user}: {run.action} of {run.service} (run {run_id}); {then}.")


# --- Alertmanager inbound ----------------------------------------------------------------------------------------


@router.post(
    "/alertmanager/webhook",
    response_model=ReceivedOut,
    summary="Receive an Alertmanager webhook (payload v4): its alerts join ours",
    responses=QUEUED,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": WEBHOOK_JSON_SCHEMA}}}},
)
async def alertmanager_webhook(request: Request, body: Annotated[Any, Body()] = None) -> ReceivedOut:
    alerting = _alerting(request)
    try:
        inbound = parse_alertmanager_webhook(body)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    conditions = [
        AlertCondition(
            labels={**a.labels, EXTERNAL_SCOPE_LABEL: "alertmanager"},
            annotations=dict(a.annotations),
            active=a.status == "firing",
            values={},
            started_at=a.starts_at,  # the alert keeps Alertmanager's times, not the time we heard of it
            ended_at=a.ends_at if a.status == "resolved" else None,
        )
        for a in inbound
    ]
    seen: dict[str, int] = {}
    for i, c in enumerate(conditions):
        fp = fingerprint(c.labels)
        if fp in seen:
            raise HTTPException(422, f"alerts[{i}].labels: same labels as alerts[{seen[fp]}]")
        seen[fp] = i
    transitions = await asyncio.to_thread(alerting.receive_external_json, conditions, alerting.now())
    return ReceivedOut(received=len(inbound), transitions=transitions)
