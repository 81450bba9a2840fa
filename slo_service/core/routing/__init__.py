"""Alert routing the Alertmanager way: routing tree, time intervals, inhibition, silences, grouping."""

from slo_service.core.routing.grouping import Dispatcher, Notification, RoutableAlert, group_key
from slo_service.core.routing.inhibit import InhibitionIndex, InhibitRule, inhibited, parse_inhibit_rule
from slo_service.core.routing.silences import Silence, silenced_by
from slo_service.core.routing.time_intervals import (
    TimeInterval,
    in_intervals,
    in_named_intervals,
    parse_named_time_intervals,
    parse_time_interval,
)
from slo_service.core.routing.tree import ResolvedRoute, Route, RoutingTree, match_routes, parse_matcher, parse_route

__all__ = [
    "Dispatcher",
    "InhibitRule",
    "InhibitionIndex",
    "Notification",
    "ResolvedRoute",
    "RoutableAlert",
    "Route",
    "RoutingTree",
    "Silence",
    "TimeInterval",
    "group_key",
    "in_intervals",
    "in_named_intervals",
    "inhibited",
    "match_routes",
    "parse_inhibit_rule",
    "parse_matcher",
    "parse_named_time_intervals",
    "parse_route",
    "parse_time_interval",
    "silenced_by",
]
