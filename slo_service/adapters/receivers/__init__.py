"""Receivers (outbound notification adapters) and the inbound parsers for Slack and Alertmanager.

Outbound, each implementing ``core.notify.Receiver`` (``deliver`` never raises):

* ``SlackReceiver`` -- Block Kit message per alert group, updated in place (bot token) or re-posted
  (incoming webhook).
* ``PagerDutyReceiver`` -- Events API v2 trigger / acknowledge / resolve on the group's dedup_key.
* ``WebhookReceiver`` -- the Alertmanager v4 webhook payload, optionally HMAC-signed.

All map HTTP answers the same way (``http_outcome``): 2xx delivered; 429, 408, 5xx, timeouts and
connection errors retried by the outbox; other 4xx failed with the response excerpt.

Inbound: ``slack_interactive`` (signature check, button clicks) and ``alertmanager_inbound``.
"""

from slo_service.adapters.receivers.alertmanager_inbound import InboundAlert, parse_alertmanager_webhook
from slo_service.adapters.receivers.http_outcome import (
    parse_retry_after,
    result_for_exception,
    result_for_response,
    result_for_status,
)
from slo_service.adapters.receivers.pagerduty import PagerDutyReceiver
from slo_service.adapters.receivers.slack import SlackReceiver, render_message
from slo_service.adapters.receivers.slack_interactive import (
    IgnoredInteraction,
    SlackAction,
    SlackSignatureError,
    parse_interaction,
    verify_slack_signature,
)
from slo_service.adapters.receivers.webhook import WebhookReceiver, sign_body

__all__ = [
    "IgnoredInteraction",
    "InboundAlert",
    "PagerDutyReceiver",
    "SlackAction",
    "SlackReceiver",
    "SlackSignatureError",
    "WebhookReceiver",
    "parse_alertmanager_webhook",
    "parse_interaction",
    "parse_retry_after",
    "render_message",
    "result_for_exception",
    "result_for_response",
    "result_for_status",
    "sign_body",
    "verify_slack_signature",
]
