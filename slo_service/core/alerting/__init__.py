"""The pure alerting core: alert rules per SLO (policy), what is alerting now (conditions), stable
alert identity (fingerprint) and the pending -> firing -> resolved lifecycle (lifecycle)."""

from slo_service.core.alerting.conditions import (
    BUDGET_EXHAUSTED,
    BURN_RATE_HIGH,
    NO_DATA,
    SLO_ALERTNAMES,
    TARGET_DOWN,
    AlertCondition,
    alertname_scope,
    condition_for,
    slo_conditions,
    slo_scope,
    target_down_conditions,
    target_scope,
)
from slo_service.core.alerting.fingerprint import fingerprint
from slo_service.core.alerting.lifecycle import Alert, AlertBook, AlertState, Scope, Transition
from slo_service.core.alerting.policy import AlertPolicy, BurnRateTier, default_tiers

__all__ = [
    "BUDGET_EXHAUSTED",
    "BURN_RATE_HIGH",
    "NO_DATA",
    "SLO_ALERTNAMES",
    "TARGET_DOWN",
    "Alert",
    "AlertBook",
    "AlertCondition",
    "AlertPolicy",
    "AlertState",
    "BurnRateTier",
    "Scope",
    "Transition",
    "alertname_scope",
    "condition_for",
    "default_tiers",
    "fingerprint",
    "slo_conditions",
    "slo_scope",
    "target_down_conditions",
    "target_scope",
]
