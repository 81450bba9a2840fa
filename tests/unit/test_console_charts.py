"""The console's server-drawn charts, burn-rate colouring and time format: pure functions, no app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from slo_service.api.console.charts import line_chart, sparkline
from slo_service.api.console.overview import Thresholds
from slo_service.api.console.pages import when

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_line_chart_scales_points_into_the_box_and_keeps_thresholds_visible() -> None:
    series = [(T0, 1.0), (T0 + timedelta(minutes=30), None), (T0 + timedelta(hours=1), 3.0)]
    chart = line_chart(series, width=100, height=50, lines=[("page > 14.4x", 14.4, "critical")], floor=0.0)
    # the gap (None) is left out; x runs over the hour, y from 0 (bottom) to the threshold (top)
    assert chart.points == "0,46.5 100,39.6"
    assert (chart.low, chart.high) == (0.0, 14.4)
    [line] = chart.lines
    assert line.y == 0.0 and line.css == "critical"


def test_a_chart_spans_the_range_it_is_given_not_just_its_points() -> None:
    end = T0 + timedelta(days=7)
    chart = line_chart([(end - timedelta(days=1), 0.5)], width=70, height=10, start=T0, end=end, ceiling=1.0)
    assert chart.points.startswith("60,")  # six of seven days in: the period so far, drawn to scale


def test_charts_without_data_are_empty() -> None:
    assert line_chart([(T0, None)]).empty
    assert sparkline([None, None]) == ""


def test_a_sparkline_keeps_0_and_1_in_range_and_goes_below_for_overspent_budgets() -> None:
    assert sparkline([1.0, 0.5, 0.0], width=10, height=10) == "0,0 5,5 10,10"
    low = sparkline([1.0, -1.0], width=10, height=10)
    assert low == "0,0 10,10"


@pytest.mark.parametrize(
    ("burn", "expected"),
    [(None, "nodata"), (0.5, "ok"), (6.0, "ok"), (6.1, "warning"), (14.4, "warning"), (14.5, "critical")],
    ids=["no-data", "low", "at-ticket", "above-ticket", "at-page", "above-page"],
)
def test_a_burn_rate_is_coloured_by_the_slos_own_thresholds(burn: float | None, expected: str) -> None:
    # fires strictly above the factor, as the alert rules do
    assert Thresholds(page=14.4, any=6.0).severity(burn) == expected


def test_instants_are_shown_in_utc_whatever_zone_they_come_in() -> None:
    berlin = datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert when(berlin) == "2026-12-07 08:00:00 UTC"
    assert when(None) == "\u2013"
