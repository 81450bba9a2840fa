"""On-call the PagerDuty way: schedules of layered rotations with overrides, and escalation policies."""

from slo_service.core.oncall.escalation import (
    EscalationLevel,
    EscalationPolicy,
    EscalationStep,
    escalation_step,
    resolve_targets,
)
from slo_service.core.oncall.schedule import Layer, Override, Restriction, Rotation, Schedule, Shift, on_call, shifts

__all__ = [
    "EscalationLevel",
    "EscalationPolicy",
    "EscalationStep",
    "Layer",
    "Override",
    "Restriction",
    "Rotation",
    "Schedule",
    "Shift",
    "escalation_step",
    "on_call",
    "resolve_targets",
    "shifts",
]
