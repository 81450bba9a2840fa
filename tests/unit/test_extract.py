"""SLIExtractor: counter increases, resets, baselines, latency buckets, thresholds, pushes."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo_service.core.extract import SLIExtractor, _compile, counter_problem
from slo_service.core.model import (
    SLI,
    SLO,
    Aggregation,
    Comparison,
    LatencySLI,
    Period,
    RatioSLI,
    ThresholdSLI,
)
from slo_service.core.samples import Sample, first_of_each_series
from slo_service.core.selector import parse_selector

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PERIOD = Period.rolling(timedelta(days=28))


def slo(sli: SLI, name: str = "s") -> SLO:
    return SLO(service="svc", name=name, objective=0.99, period=PERIOD, sli=sli)


def at(i: int) -> datetime:
    return T0 + timedelta(seconds=15 * i)


def req(code: str, value: float, route: str = "/predict") -> Sample:
    return Sample("http_requests_total", {"code": code, "route": route}, value)


RATIO_GOOD = slo(RatioSLI(source="m", total="http_requests_total", good='http_requests_total{code="200"}'))
RATIO_BAD = slo(RatioSLI(source="m", total="http_requests_total", bad='http_requests_total{code=~"5.."}'))


def test_sample_labels_are_hashable_and_order_independent() -> None:
    a = Sample("x", {"a": "1", "b": "2"}, 1.0)
    b = Sample("x", {"b": "2", "a": "1"}, 5.0)
    assert a.series_id == b.series_id == ("x", (("a", "1"), ("b", "2")))
    assert hash(a.labels) == hash(b.labels)
    assert a.labels == {"a": "1", "b": "2"}
    assert a.labels.get("zz") is None
    assert a.describe() == 'x{a="1",b="2"}'
    hash(a)


def test_first_scrape_is_only_a_baseline() -> None:
    ex = SLIExtractor([RATIO_GOOD])
    r = ex.from_scrape([req("200", 100), req("500", 5)], at(0))
    assert r.observations == [] and r.errors == {}
    r = ex.from_scrape([req("200", 190), req("500", 15)], at(1))
    assert r.errors == {}
    [o] = r.observations
    assert (o.key, o.at, o.good, o.total) == ("svc/s", at(1), 90, 100)


def test_bad_variant_gives_total_minus_bad() -> None:
    ex = SLIExtractor([RATIO_BAD])
    ex.from_scrape([req("200", 100), req("500", 5), req("503", 1)], at(0))
    [o] = ex.from_scrape([req("200", 150), req("500", 8), req("503", 2)], at(1)).observations
    assert (o.good, o.total) == (50, 54)


def test_absent_bad_series_counts_zero_but_absent_metric_is_an_error() -> None:
    ex = SLIExtractor([RATIO_BAD])
    ex.from_scrape([req("200", 100)], at(0))
    [o] = ex.from_scrape([req("200", 110)], at(1)).observations
    assert (o.good, o.total) == (10, 10)
    r = ex.from_scrape([Sample("other_total", {}, 1)], at(2))
    assert r.observations == []
    assert r.errors == {"svc/s": "no series match http_requests_total"}


def test_counter_reset_counts_new_value() -> None:
    ex = SLIExtractor([RATIO_GOOD])
    ex.from_scrape([req("200", 1000)], at(0))
    [o] = ex.from_scrape([req("200", 7)], at(1)).observations  # process restarted
    assert (o.good, o.total) == (7, 7)
    [o] = ex.from_scrape([req("200", 10)], at(2)).observations
    assert (o.good, o.total) == (3, 3)


def test_new_series_mid_way_is_a_baseline_for_that_series_only() -> None:
    ex = SLIExtractor([RATIO_GOOD])
    ex.from_scrape([req("200", 10)], at(0))
    [o] = ex.from_scrape([req("200", 20), req("500", 3)], at(1)).observations
    assert (o.good, o.total) == (10, 10)
    [o] = ex.from_scrape([req("200", 20), req("500", 5)], at(2)).observations
    assert (o.good, o.total) == (0, 2)


def test_disappeared_series_is_forgotten_after_n_missed_scrapes() -> None:
    ex = SLIExtractor([RATIO_GOOD], forget_after=2)
    ex.from_scrape([req("200", 10), req("500", 1)], at(0))
    for i in range(1, 4):
        ex.from_scrape([req("200", 10 + i)], at(i))
    assert ex.tracked_series == 2  # total+good of code=200; code=500 is gone
    # back again: a baseline, not an increase of 100
    [o] = ex.from_scrape([req("200", 14), req("500", 101)], at(4)).observations
    assert (o.good, o.total) == (1, 1)


def test_series_missing_for_fewer_scrapes_keeps_its_baseline() -> None:
    ex = SLIExtractor([RATIO_GOOD], forget_after=3)
    ex.from_scrape([req("200", 10), req("500", 1)], at(0))
    ex.from_scrape([req("200", 10)], at(1))
    [o] = ex.from_scrape([req("200", 10), req("500", 4)], at(2)).observations
    assert (o.good, o.total) == (0, 3)


def test_nan_value_is_an_error_and_does_not_move_baselines() -> None:
    ex = SLIExtractor([RATIO_GOOD])
    ex.from_scrape([req("200", 10)], at(0))
    r = ex.from_scrape([req("200", math.nan)], at(1))
    assert r.observations == []
    assert "NaN" in r.errors["svc/s"] and 'code="200"' in r.errors["svc/s"]
    r = ex.from_scrape([req("200", math.inf)], at(2))
    assert "+Inf" in r.errors["svc/s"]
    [o] = ex.from_scrape([req("200", 25)], at(3)).observations
    assert (o.good, o.total) == (15, 15)


def test_invalid_selector_is_reported_every_time() -> None:
    bad = slo(RatioSLI(source="m", total="x{", good="y"))
    r = SLIExtractor([bad]).from_scrape([], at(0))
    assert "svc/s" in r.errors


def hist(route: str, buckets: dict[str, float], count: float | None = None) -> list[Sample]:
    out = [Sample("model_request_duration_seconds_bucket", {"route": route, "le": le}, v) for le, v in buckets.items()]
    if count is not None:
        out.append(Sample("model_request_duration_seconds_count", {"route": route}, count))
    return out


LAT = slo(LatencySLI(source="m", histogram="model_request_duration_seconds", threshold=0.25))


def test_latency_sums_buckets_across_label_sets() -> None:
    ex = SLIExtractor([LAT])
    ex.from_scrape(hist("/a", {"0.1": 5, "0.25": 8, "1.0": 9, "+Inf": 10}) + hist("/b", {"0.25": 1, "+Inf": 2}), at(0))
    r = ex.from_scrape(
        hist("/a", {"0.1": 50, "0.25": 80, "1.0": 90, "+Inf": 100}) + hist("/b", {"0.25": 11, "+Inf": 22}),
        at(1),
    )
    [o] = r.observations
    assert (o.good, o.total) == (72 + 10, 90 + 20)


def test_latency_matchers_restrict_series() -> None:
    s = slo(LatencySLI(source="m", histogram="model_request_duration_seconds", threshold=0.25, matchers='{route="/b"}'))
    ex = SLIExtractor([s])
    ex.from_scrape(hist("/a", {"0.25": 8, "+Inf": 10}) + hist("/b", {"0.25": 1, "+Inf": 2}), at(0))
    r = ex.from_scrape(hist("/a", {"0.25": 80, "+Inf": 100}) + hist("/b", {"0.25": 3, "+Inf": 6}), at(1))
    [o] = r.observations
    assert (o.good, o.total) == (2, 4)


def test_latency_threshold_compared_as_float() -> None:
    s = slo(LatencySLI(source="m", histogram="model_request_duration_seconds", threshold=1))
    ex = SLIExtractor([s])
    ex.from_scrape(hist("/a", {"0.5": 1, "1.0": 2, "+Inf": 4}), at(0))
    [o] = ex.from_scrape(hist("/a", {"0.5": 1, "1.0": 5, "+Inf": 9}), at(1)).observations
    assert (o.good, o.total) == (3, 5)


def test_latency_falls_back_to_count_without_inf_bucket() -> None:
    ex = SLIExtractor([LAT])
    ex.from_scrape(hist("/a", {"0.25": 8}, count=10), at(0))
    [o] = ex.from_scrape(hist("/a", {"0.25": 9}, count=20), at(1)).observations
    assert (o.good, o.total) == (1, 10)


def test_latency_threshold_not_a_boundary_is_an_error() -> None:
    s = slo(LatencySLI(source="m", histogram="model_request_duration_seconds", threshold=0.3))
    ex = SLIExtractor([s])
    body = hist("/a", {"0.01": 1, "0.025": 1, "0.25": 2, "0.5": 3, "+Inf": 3})
    for i in range(2):
        r = ex.from_scrape(body, at(i))
        assert r.observations == []
        assert r.errors == {
            "svc/s": "threshold 0.3 is not a bucket boundary of model_request_duration_seconds; "
            "boundaries: 0.01, 0.025, 0.25, 0.5"
        }


def test_latency_histogram_absent_is_an_error() -> None:
    r = SLIExtractor([LAT]).from_scrape([req("200", 1)], at(0))
    assert r.errors["svc/s"].startswith("no series match model_request_duration_seconds_bucket")


def test_latency_reset_per_series() -> None:
    ex = SLIExtractor([LAT])
    ex.from_scrape(hist("/a", {"0.25": 80, "+Inf": 100}) + hist("/b", {"0.25": 1, "+Inf": 2}), at(0))
    # /a restarted, /b kept counting
    [o] = ex.from_scrape(hist("/a", {"0.25": 3, "+Inf": 4}) + hist("/b", {"0.25": 2, "+Inf": 4}), at(1)).observations
    assert (o.good, o.total) == (3 + 1, 4 + 2)


def gauge(gpu: str, v: float) -> Sample:
    return Sample("gpu_mem_ratio", {"gpu": gpu}, v)


@pytest.mark.parametrize(
    ("agg", "bound", "good"),
    [
        (Aggregation.MAX, 0.9, 0.0),  # max 0.95 > 0.9
        (Aggregation.MIN, 0.9, 1.0),  # min 0.5
        (Aggregation.AVG, 0.75, 1.0),  # avg 0.725
        (Aggregation.AVG, 0.7, 0.0),
        (Aggregation.SUM, 1.5, 1.0),  # sum 1.45
        (Aggregation.SUM, 1.4, 0.0),
    ],
)
def test_threshold_aggregation(agg: Aggregation, bound: float, good: float) -> None:
    s = slo(ThresholdSLI(source="m", metric="gpu_mem_ratio", op=Comparison.LE, value=bound, aggregate=agg))
    ex = SLIExtractor([s])
    [o] = ex.from_scrape([gauge("0", 0.5), gauge("1", 0.95)], at(0)).observations  # no baseline needed
    assert (o.good, o.total) == (good, 1.0)


def test_threshold_absent_and_nan() -> None:
    s = slo(ThresholdSLI(source="m", metric='gpu_mem_ratio{gpu="0"}', op=Comparison.LT, value=0.9))
    ex = SLIExtractor([s])
    assert ex.from_scrape([gauge("1", 0.5)], at(0)).errors["svc/s"] == 'no series match gpu_mem_ratio{gpu="0"}'
    r = ex.from_scrape([gauge("0", math.nan)], at(1))
    assert r.observations == [] and "NaN" in r.errors["svc/s"]


def test_several_slos_share_samples_independently() -> None:
    ex = SLIExtractor([RATIO_GOOD, slo(RATIO_BAD.sli, name="other")])
    ex.from_scrape([req("200", 1), req("500", 1)], at(0))
    r = ex.from_scrape([req("200", 3), req("500", 2)], at(1))
    assert {(o.key, o.good, o.total) for o in r.observations} == {("svc/s", 2, 3), ("svc/other", 2, 3)}


def test_reconfigure_keeps_baselines_of_unchanged_slos() -> None:
    ex = SLIExtractor([RATIO_GOOD])
    ex.from_scrape([req("200", 10)], at(0))
    changed = slo(RatioSLI(source="m", total="http_requests_total", good='http_requests_total{code="500"}'))
    ex2 = ex.reconfigure([RATIO_GOOD, slo(changed.sli, name="new")])
    r = ex2.from_scrape([req("200", 15)], at(1))
    assert [(o.key, o.total) for o in r.observations] == [("svc/s", 5)]


# ---------------------------------------------------- duplicates and invalid counters


def test_first_sample_of_each_series_is_kept() -> None:
    a, b = req("200", 1), req("500", 2)
    again = Sample("http_requests_total", {"route": "/predict", "code": "200"}, 9)  # label order is no matter
    kept, dropped = first_of_each_series([a, b, again, req("500", 7)])
    assert list(kept) == [a, b]
    assert [s.value for s in dropped] == [9, 7]
    # an empty label value is no label, as in Prometheus
    kept, dropped = first_of_each_series([Sample("x", {"a": ""}, 1), Sample("x", {}, 2), Sample("x", {"a": "1"}, 3)])
    assert [s.value for s in kept] == [1, 3] and [s.value for s in dropped] == [2]
    unique = [a, b]
    assert first_of_each_series(unique) == (unique, [])


def test_a_series_exposed_twice_is_counted_once_from_its_first_sample() -> None:
    # the second copy of the good series carries another value: added, it made phantom good events
    ex = SLIExtractor([RATIO_GOOD])
    first = ex.from_scrape([req("200", 100), req("500", 5), req("200", 7000)], at(0))
    assert [s.describe() for s in first.duplicates] == ['http_requests_total{code="200",route="/predict"}']
    r = ex.from_scrape([req("200", 190), req("500", 15), req("200", 7100), req("200", 3)], at(1))
    [o] = r.observations
    assert (o.good, o.total) == (90, 100)
    assert [s.value for s in r.duplicates] == [7100, 3]
    assert r.errors == {}


@pytest.mark.parametrize(
    ("value", "reason"),
    [(-5.0, "negative"), (-0.5, "negative"), (math.nan, "nan"), (math.inf, "inf"), (-math.inf, "inf"), (0.0, None)],
)
def test_counter_problem(value: float, reason: str | None) -> None:
    assert counter_problem(value) == reason


def test_a_negative_counter_is_skipped_and_never_makes_a_negative_minute() -> None:
    # before: 10 -> -5 was read as a reset with an increase of -5 (a negative minute), then -5 -> 30 as +35
    ex = SLIExtractor([RATIO_GOOD])
    ex.from_scrape([req("200", 10)], at(0))
    r = ex.from_scrape([req("200", -5)], at(1))
    assert r.observations == []
    assert r.invalid_counters == {'http_requests_total{code="200",route="/predict"}': -5}
    assert r.errors["svc/s"].startswith(
        'invalid counter value -5 in http_requests_total{code="200",route="/predict"}: series skipped'
    )
    [o] = ex.from_scrape([req("200", 30)], at(2)).observations
    assert (o.good, o.total) == (20, 20)  # from the last valid value, 10


def test_an_invalid_good_series_holds_the_slo_so_no_phantom_bad_events_appear() -> None:
    ex = SLIExtractor([RATIO_GOOD])
    ex.from_scrape([req("200", 100), req("500", 0)], at(0))
    r = ex.from_scrape([req("200", math.nan), req("500", 5)], at(1))
    assert r.observations == [] and list(r.invalid_counters) == ['http_requests_total{code="200",route="/predict"}']
    # counting only the 500s here would have recorded 5 of 5 events bad; the next scrape counts it all
    [o] = ex.from_scrape([req("200", 150), req("500", 10)], at(2)).observations
    assert (o.good, o.total) == (50, 60)


def test_invalid_counters_are_reported_once_per_series_across_slos() -> None:
    other = slo(RatioSLI(source="m", total="http_requests_total", bad='http_requests_total{code=~"5.."}'), "other")
    ex = SLIExtractor([RATIO_GOOD, other])
    ex.from_scrape([req("200", 1), req("500", 1)], at(0))
    r = ex.from_scrape([req("200", math.inf), req("500", -1), req("503", 2)], at(1))
    assert r.invalid_counters == {
        'http_requests_total{code="200",route="/predict"}': math.inf,
        'http_requests_total{code="500",route="/predict"}': -1,
    }
    assert set(r.errors) == {"svc/s", "svc/other"}
    assert "(and 1 more series)" in r.errors["svc/s"]


def test_latency_checks_only_the_buckets_it_reads() -> None:
    ex = SLIExtractor([LAT])
    ex.from_scrape(hist("/a", {"0.1": 1, "0.25": 8, "+Inf": 10}), at(0))
    [o] = ex.from_scrape(hist("/a", {"0.1": math.nan, "0.25": 18, "+Inf": 30}), at(1)).observations
    assert (o.good, o.total) == (10, 20)
    r = ex.from_scrape(hist("/a", {"0.1": 3, "0.25": -1, "+Inf": 40}), at(2))
    assert r.observations == [] and list(r.invalid_counters) == [
        'model_request_duration_seconds_bucket{le="0.25",route="/a"}'
    ]
    [o] = ex.from_scrape(hist("/a", {"0.25": 28, "+Inf": 50}), at(3)).observations
    assert (o.good, o.total) == (10, 20)


def test_a_negative_pushed_increment_is_an_error() -> None:
    ex = SLIExtractor([RATIO_BAD])
    r = ex.from_push([Sample("http_requests_total", {"code": "200"}, -3, at(0))])
    assert r.observations == []
    assert r.errors["svc/s"] == 'pushed increment -3 in http_requests_total{code="200"} is no event count (0 or more)'


# ---------------------------------------------------------------------- push


def test_push_ratio_increments_grouped_by_timestamp() -> None:
    ex = SLIExtractor([RATIO_BAD])
    t1, t2 = at(1), at(2)
    samples = [
        Sample("http_requests_total", {"code": "200"}, 10, t1),
        Sample("http_requests_total", {"code": "500"}, 2, t1),
        Sample("http_requests_total", {"code": "200"}, 5, t2),
    ]
    r = ex.from_push(samples)
    assert r.errors == {}
    assert [(o.at, o.good, o.total) for o in r.observations] == [(t1, 10, 12), (t2, 5, 5)]
    # increments, not cumulative: pushing the same again gives the same again
    assert [(o.good, o.total) for o in ex.from_push(samples).observations] == [(10, 12), (5, 5)]


def test_push_problems_name_negative_counts_and_parts_above_the_total_by_sample_index() -> None:
    thr = slo(ThresholdSLI(source="p", metric="temp_celsius", op=Comparison.GT, value=-10), name="thr")
    ex = SLIExtractor([RATIO_GOOD, RATIO_BAD, LAT, thr])
    t1, t2 = at(1), at(2)
    samples = [
        Sample("temp_celsius", {}, -20, t1),  # a gauge may be negative
        Sample("http_requests_total", {"code": "200"}, 5, t1),
        Sample("http_requests_total", {"code": "500"}, -1, t1),  # negative: total of both ratio SLOs
        Sample("model_request_duration_seconds_bucket", {"le": "0.25"}, 9, t2),
        Sample("model_request_duration_seconds_bucket", {"le": "+Inf"}, 8, t2),
        Sample("http_requests_total", {"code": "200"}, 3, t2),  # fine: good 3 of total 3
    ]
    assert ex.push_problems(samples) == [
        "samples[2].value: -1 is negative; it is a total event count of svc/s",
        f"samples[3].value: le=0.25 bucket events (9) exceed the total (8) of svc/s at {t2.isoformat()}",
    ]
    assert ex.push_problems([samples[1], samples[5]]) == []


def test_push_problems_good_or_bad_above_total_of_separate_series() -> None:
    good = slo(RatioSLI(source="p", total="runs_total", good="runs_ok_total"), name="good")
    bad = slo(RatioSLI(source="p", total="runs_total", bad="runs_failed_total"), name="bad")
    ex = SLIExtractor([good, bad])
    samples = [
        Sample("runs_total", {}, 10, at(1)),
        Sample("runs_ok_total", {}, 11, at(1)),
        Sample("runs_failed_total", {}, 12, at(1)),
    ]
    assert ex.push_problems(samples) == [
        f"samples[1].value: good events (11) exceed the total (10) of svc/good at {at(1).isoformat()}",
        f"samples[2].value: bad events (12) exceed the total (10) of svc/bad at {at(1).isoformat()}",
    ]


def test_push_without_timestamp_uses_at_or_errors() -> None:
    ex = SLIExtractor([RATIO_GOOD])
    s = [req("200", 4)]
    assert ex.from_push(s).errors == {"svc/s": "pushed sample without timestamp"}
    [o] = ex.from_push(s, at=at(3)).observations
    assert (o.at, o.good, o.total) == (at(3), 4, 4)


def test_push_nothing_matching_is_neither_observation_nor_error() -> None:
    r = SLIExtractor([RATIO_GOOD]).from_push([Sample("x", {}, 1, at(0))])
    assert r.observations == [] and r.errors == {}


def test_push_latency_and_threshold() -> None:
    s_thr = slo(ThresholdSLI(source="p", metric="gpu_mem_ratio", op=Comparison.LT, value=0.9), name="thr")
    ex = SLIExtractor([LAT, s_thr])
    samples = [
        Sample("model_request_duration_seconds_bucket", {"le": "0.25"}, 7, at(1)),
        Sample("model_request_duration_seconds_bucket", {"le": "+Inf"}, 10, at(1)),
        Sample("gpu_mem_ratio", {"gpu": "0"}, 0.5, at(1)),
        Sample("gpu_mem_ratio", {"gpu": "1"}, 0.95, at(1)),
        Sample("gpu_mem_ratio", {"gpu": "0"}, math.nan, at(2)),
    ]
    r = ex.from_push(samples)
    assert [(o.key, o.good, o.total) for o in r.observations] == [("svc/s", 7, 10)]
    assert "NaN" in r.errors["svc/thr"]
    r = ex.from_push(samples[:4])
    assert sorted((o.key, o.good, o.total) for o in r.observations) == [("svc/s", 7, 10), ("svc/thr", 1, 2)]


# ------------------------------------------------------------------ property


@st.composite
def counter_runs(draw: st.DrawFn) -> list[float]:
    """Monotone counter values with random resets to a smaller value."""
    values: list[float] = []
    v = float(draw(st.integers(0, 1000)))
    values.append(v)
    for _ in range(draw(st.integers(0, 40))):
        if draw(st.booleans()) and draw(st.integers(0, 4)) == 0:
            v = float(draw(st.integers(0, int(v)))) if v > 0 else 0.0  # reset
        else:
            v += draw(st.integers(0, 500))
        values.append(v)
    return values


@given(counter_runs())
def test_summed_increases_equal_brute_force(values: list[float]) -> None:
    ex = SLIExtractor([RATIO_GOOD])
    got_total = 0.0
    for i, v in enumerate(values):
        for o in ex.from_scrape([req("200", v)], at(i)).observations:
            assert o.good == o.total
            got_total += o.total
    expected = sum(b - a if b >= a else b for a, b in itertools.pairwise(values))
    assert got_total == expected


values_or_garbage = st.one_of(
    st.integers(0, 2000).map(float),
    st.sampled_from([-1.0, -1e9, math.nan, math.inf, -math.inf]),
)


@given(st.lists(st.tuples(values_or_garbage, st.none() | values_or_garbage), max_size=40))
def test_no_observation_is_ever_negative_and_totals_follow_the_valid_values(
    scrapes: list[tuple[float, float | None]],
) -> None:
    """Whatever a target exposes (resets, negatives, NaN, Inf, a second copy of the series), every
    observation is finite with 0 <= good <= total, and the totals are Prometheus' increase() over the
    valid values of the first copy."""
    ex = SLIExtractor([RATIO_GOOD], forget_after=1000)
    got = 0.0
    for i, (value, copy) in enumerate(scrapes):
        samples = [req("200", value)] + ([req("200", copy)] if copy is not None else [])
        for o in ex.from_scrape(samples, at(i)).observations:
            assert math.isfinite(o.total) and 0 <= o.good <= o.total
            got += o.total
    valid = [v for v, _ in scrapes if counter_problem(v) is None]
    assert got == sum(b - a if b >= a else b for a, b in itertools.pairwise(valid))


@pytest.mark.parametrize(
    "selector",
    ['x{code="200"}', 'x{code!="200"}', 'x{code=~"5.."}', 'x{code!~"5..|4.."}', 'x{a="",code=~"2.*"}', "x"],
)
@pytest.mark.parametrize("labels", [{}, {"code": "200"}, {"code": "503"}, {"code": "404", "a": "1"}, {"a": ""}])
def test_compiled_predicates_agree_with_selector_matches(selector: str, labels: dict[str, str]) -> None:
    sel = parse_selector(selector)
    assert _compile(sel)(labels) == sel.matches("x", labels)
