"""Generators of files derived from the configuration (Prometheus rule files). Imports core, yaml, json only."""

from __future__ import annotations

from slo_service.generate.prometheus_rules import dump_rules, prometheus_rules
from slo_service.generate.self_rules import self_alert_rules

__all__ = ["dump_rules", "prometheus_rules", "self_alert_rules"]
