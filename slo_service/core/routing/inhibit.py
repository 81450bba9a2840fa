"""Alertmanager inhibit rules: a firing source alert mutes target alerts that share the `equal` labels.

As in Alertmanager, a label missing on both sides counts as equal (both are ""), and an alert
matching both the source and the target matchers is never inhibited by an alert that also matches
the target matchers - so an alert never inhibits itself and two such alerts never mute each other.
Sources are the firing alerts, silenced or not (Alertmanager lets silenced alerts inhibit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slo_service.core.routing.tree import parse_matcher
from slo_service.core.selector import Matcher


@dataclass(frozen=True)
class InhibitRule:
    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.source_matchers or not self.target_matchers:
            raise ValueError("an inhibit rule needs source_matchers and target_matchers")

    def is_source(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.source_matchers)

    def is_target(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.target_matchers)

    def key(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(labels.get(name, "") for name in self.equal)

    def inhibits(self, target_labels: Mapping[str, str], firing_alerts_labels: Sequence[Mapping[str, str]]) -> bool:
        """True when some firing alert (other than a two-sided match, see module doc) inhibits the target."""
        if not self.is_target(target_labels):
            return False
        two_sided = self.is_source(target_labels)
        key = self.key(target_labels)
        for src in firing_alerts_labels:
            if self.is_source(src) and self.key(src) == key and not (two_sided and self.is_target(src)):
                return True
        return False


def parse_inhibit_rule(spec: Mapping[str, Any]) -> InhibitRule:
    """Parse one Alertmanager `inhibit_rules:` entry (source_matchers, target_matchers, equal)."""
    unknown = sorted(set(spec) - {"source_matchers", "target_matchers", "equal"})
    if unknown:
        raise ValueError(f"inhibit rule: unknown field(s) {unknown}")
    parts: dict[str, tuple[str, ...]] = {}
    for key in ("source_matchers", "target_matchers", "equal"):
        value = spec.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"inhibit rule: {key} must be a list of strings, got {value!r}")
        parts[key] = tuple(value)
    return InhibitRule(
        tuple(parse_matcher(m) for m in parts["source_matchers"]),
        tuple(parse_matcher(m) for m in parts["target_matchers"]),
        parts["equal"],
    )


def inhibited(
    rules: Sequence[InhibitRule], target_labels: Mapping[str, str], firing_alerts_labels: Sequence[Mapping[str, str]]
) -> bool:
    """True when any rule inhibits the target; `firing_alerts_labels` must hold only firing alerts."""
    return any(r.inhibits(target_labels, firing_alerts_labels) for r in rules)


class InhibitionIndex:
    """The firing sources of every rule, bucketed by their `equal` values: O(rules) per query."""

    def __init__(self, rules: Sequence[InhibitRule], firing_alerts_labels: Sequence[Mapping[str, str]]) -> None:
        self.rules = tuple(rules)
        # per rule: equal-key -> [sources, sources that do not also match the target matchers]
        self._buckets: list[dict[tuple[str, ...], list[int]]] = []
        for rule in self.rules:
            buckets: dict[tuple[str, ...], list[int]] = {}
            for labels in firing_alerts_labels:
                if rule.is_source(labels):
                    counts = buckets.setdefault(rule.key(labels), [0, 0])
                    counts[0] += 1
                    if not rule.is_target(labels):
                        counts[1] += 1
            self._buckets.append(buckets)

    def inhibited(self, target_labels: Mapping[str, str]) -> bool:
        for rule, buckets in zip(self.rules, self._buckets, strict=True):
            if not buckets or not rule.is_target(target_labels):
                continue
            counts = buckets.get(rule.key(target_labels))
            if counts is None:
                continue
            if counts[1 if rule.is_source(target_labels) else 0] > 0:
                return True
        return False
