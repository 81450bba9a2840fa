"""Every user query in a generated SLI expression is ONE operand: parsed with promql-parser, the ratio's
operands are exactly the user's queries, whatever operators those queries contain.

Pasting `A - B` into `A - B / T` makes PromQL compute `A - (B / T)` (an "error ratio" of 7015 instead of
0.02), so these tests check the parse tree, not the text.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import promql_parser as pp
import pytest

from slo_service.core.model import (
    SLO,
    Aggregation,
    Budgeting,
    BudgetingMethod,
    Comparison,
    Config,
    LatencySLI,
    Period,
    PromQLSource,
    RatioSLI,
    ScrapeSource,
    Service,
    ThresholdSLI,
)
from slo_service.generate import prometheus_rules
from slo_service.generate.prometheus_rules import error_ratio_expr, events_expr

# Sloth's home-wifi shape and the `A - B` error query of the issue, plus plain selectors.
A_MINUS_B = "sum(increase(wifi_requests_total[$window])) - sum(increase(wifi_ok_total[$window]))"
OR_QUERY = "sum(increase(a_total[$window])) or vector(0)"
TOTAL_SUM = "sum(increase(wifi_requests_total[$window])) + 0 * sum(increase(b_total[$window]))"
SELECTOR = 'http_requests_total{code=~"5.."}'
EXPRESSION = "sum by (a) (y_total) + sum by (a) (z_total)"


def _config(slo: SLO, promql: bool) -> Config:
    source = PromQLSource("s", "http://127.0.0.1:9090") if promql else ScrapeSource("s", "http://127.0.0.1:1/metrics")
    return Config(services={"svc": Service("svc")}, sources={"s": source}, slos=(slo,))


def _slo(sli: Any, budgeting: Budgeting | None = None) -> SLO:
    return SLO("svc", "avail", 0.999, Period.rolling(timedelta(days=30)), sli, budgeting=budgeting or Budgeting())


def _sli_records(config: Config) -> list[tuple[str, str]]:
    """(window, expr) of every slo:sli_error:ratio_rate<W> rule."""
    out = []
    for group in prometheus_rules(config)["groups"]:
        for rule in group["rules"]:
            if rule.get("record", "").startswith("slo:sli_error:ratio_rate"):
                out.append((rule["labels"]["sloth_window"], rule["expr"]))
    assert out
    return out


def _unparen(node: pp.Expr) -> pp.Expr:
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node


def _binary(node: pp.Expr, op: str) -> tuple[pp.Expr, pp.Expr]:
    node = _unparen(node)
    assert isinstance(node, pp.BinaryExpr), f"expected a binary {op}, got {node}"
    assert str(node.op) == op, f"top operator is {node.op}, not {op}: {node}"
    return node.lhs, node.rhs


def _ratio(expr: str, good_form: bool) -> tuple[pp.Expr, pp.Expr]:
    """The (numerator, denominator) operand nodes of `(N / D)` or `(1 - (N / D))`."""
    root = pp.parse(expr)
    if good_form:
        one, root = _binary(root, "-")
        assert str(one) == "1"
    return _binary(root, "/")


def _user_query(operand: pp.Expr, window: str, fn: str) -> str:
    """The user's query an operand stands for, canonicalised: `(Q)` for `$window` queries, `Q` inside
    `sum(fn(Q[W]))` for selectors and `sum(fn((Q)[W:]))` for other PromQL expressions."""
    if isinstance(operand, pp.ParenExpr):
        return str(operand.expr)
    assert isinstance(operand, pp.AggregateExpr) and str(operand.op) == "sum", operand
    call = operand.expr
    assert isinstance(call, pp.Call) and call.func.name == fn, call
    (arg,) = call.args
    if isinstance(arg, pp.MatrixSelector):
        assert pp.display_duration(arg.range) == window
        return str(arg.vector_selector)
    assert isinstance(arg, pp.SubqueryExpr) and pp.display_duration(arg.range) == window, arg
    return str(_unparen(arg.expr))


def _canon(query: str, window: str) -> str:
    return str(pp.parse(query.replace("$window", window)))


RATIO_CASES = [
    pytest.param(True, "bad", A_MINUS_B, TOTAL_SUM, id="promql-window-bad"),
    pytest.param(True, "good", A_MINUS_B, TOTAL_SUM, id="promql-window-good"),
    pytest.param(True, "bad", OR_QUERY, TOTAL_SUM, id="promql-window-or"),
    pytest.param(True, "bad", EXPRESSION, "sum(x_total) - sum(w_total)", id="promql-subquery"),
    pytest.param(False, "bad", SELECTOR, "http_requests_total", id="scrape-bad"),
    pytest.param(False, "good", 'http_requests_total{code!~"5.."}', "http_requests_total", id="scrape-good"),
]


@pytest.mark.parametrize(("promql", "form", "query", "total"), RATIO_CASES)
def test_ratio_operands_are_exactly_the_user_queries(promql: bool, form: str, query: str, total: str) -> None:
    sli = RatioSLI("s", total=total, **{form: query})
    config = _config(_slo(sli), promql)
    for window, expr in _sli_records(config):
        fn = "increase" if window == "30d" else "rate"  # the period reads increase()
        num, den = _ratio(expr, good_form=form == "good")
        assert _user_query(num, window, fn) == _canon(query, window), expr
        assert _user_query(den, window, fn) == _canon(total, window), expr


def test_events_guard_operand_is_the_total_query() -> None:
    config = _config(_slo(RatioSLI("s", total=TOTAL_SUM, bad=A_MINUS_B)), promql=True)
    events = events_expr(config, config.slos[0], "1h")
    lhs, rhs = _binary(pp.parse(f"{events} >= 100"), ">=")
    assert _user_query(lhs, "1h", "increase") == _canon(TOTAL_SUM, "1h")
    assert str(rhs) == "100"


def test_latency_operands_are_the_histogram_buckets() -> None:
    sli = LatencySLI("s", "lat_seconds", 0.25, matchers='{route="/p", le="9"}')
    config = _config(_slo(sli), promql=False)
    for window, expr in _sli_records(config):
        fn = "rate" if window != "30d" else "increase"
        num, den = _ratio(expr, good_form=True)
        assert _user_query(num, window, fn) == str(pp.parse('lat_seconds_bucket{route="/p",le="0.25"}'))
        assert _user_query(den, window, fn) == str(pp.parse('lat_seconds_bucket{route="/p",le="+Inf"}'))


@pytest.mark.parametrize("metric", ['fresh_seconds{set="u"}', "a_seconds - b_seconds"], ids=["selector", "a-minus-b"])
def test_threshold_operand_is_the_aggregated_user_metric(metric: str) -> None:
    sli = ThresholdSLI("s", metric, Comparison.LT, 900, Aggregation.MAX)
    slo = _slo(sli, Budgeting(BudgetingMethod.TIMESLICES, timedelta(minutes=5)))
    config = _config(slo, promql=False)
    for _window, expr in _sli_records(config):
        found = [n for n in _nodes(pp.parse(expr)) if isinstance(n, pp.BinaryExpr) and str(n.op) == "<"]
        samples = [n for n in found if isinstance(_unparen(n.lhs), pp.AggregateExpr)]
        assert samples, expr  # the slice verdict compares the aggregated gauge with the bound
        for node in samples:
            sample = _unparen(node.lhs)
            assert isinstance(sample, pp.AggregateExpr) and str(sample.op) == "max"
            assert str(sample.expr) == str(pp.parse(metric))
            assert str(node.rhs) == "900"


def _nodes(node: pp.Expr) -> list[pp.Expr]:
    """`node` and every expression inside it."""
    out = [node]
    for attr in ("expr", "lhs", "rhs", "vector_selector"):
        child = getattr(node, attr, None)
        if isinstance(child, pp.Expr):
            out.extend(_nodes(child))
    for arg in getattr(node, "args", None) or []:
        if isinstance(arg, pp.Expr):
            out.extend(_nodes(arg))
    return out


def test_home_wifi_error_query_keeps_its_meaning() -> None:
    """The issue's numbers: bad = A - B with A = 1000, B = 800 over T = 1000 must be 0.2, not A - B/T."""
    config = _config(_slo(RatioSLI("s", total="T_q[$window]", bad="A_q[$window] - B_q[$window]")), promql=True)
    expr = error_ratio_expr(config, config.slos[0], "5m")
    values = {"A_q[5m]": "1000", "B_q[5m]": "800", "T_q[5m]": "1000"}
    for name, value in values.items():
        expr = expr.replace(name, value)
    assert eval(expr) == pytest.approx(0.2)  # arithmetic on our own numbers only
