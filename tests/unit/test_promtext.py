"""parse_text: Prometheus text exposition flattened into Samples under their sample names."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_service.adapters.scrape import parse_text, parse_text_reference

BODY = r"""
# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
# TYPE gauge_nan gauge
gauge_nan NaN
"""


def test_prometheus_docs_example_is_flattened() -> None:
    samples = parse_text(BODY)
    by = {s.series_id: s.value for s in samples}
    assert by[("http_requests_total", (("code", "200"), ("method", "post")))] == 1027
    assert by[("http_requests_total", (("code", "400"), ("method", "post")))] == 3
    assert by[("metric_without_timestamp_and_labels", ())] == 12.47
    assert by[("something_weird", (("problem", "division by zero"),))] == math.inf
    assert by[("http_request_duration_seconds_bucket", (("le", "+Inf"),))] == 144320
    assert by[("http_request_duration_seconds_bucket", (("le", "1"),))] == 133988
    assert by[("http_request_duration_seconds_count", ())] == 144320
    assert by[("rpc_duration_seconds", (("quantile", "0.5"),))] == 4773
    assert by[("rpc_duration_seconds_count", ())] == 2693
    assert math.isnan(by[("gauge_nan", ())])
    assert len(samples) == 18


def test_label_escapes_are_decoded() -> None:
    [s] = [s for s in parse_text(BODY) if s.name == "msdos_file_access_time_seconds"]
    assert s.labels["path"] == "C:\\DIR\\FILE.TXT"
    assert s.labels["error"] == 'Cannot find file:\n"FILE.TXT"'


def test_exposition_timestamps_are_ignored() -> None:
    assert all(s.timestamp is None for s in parse_text(BODY))


def test_untyped_and_empty() -> None:
    assert parse_text("") == []
    assert parse_text("# just a comment\n") == []
    [s] = parse_text("up 1\n")
    assert (s.name, dict(s.labels), s.value) == ("up", {}, 1.0)


def test_counter_without_total_suffix_keeps_its_name() -> None:
    # prometheus_client's parser would call it jobs_total; Prometheus stores it as jobs
    [s] = parse_text("# TYPE jobs counter\njobs 5\n")
    assert s.name == "jobs"
    [s] = parse_text('# TYPE jobs_total counter\n  jobs_total{a="1"} 5\n')
    assert s.name == "jobs_total"
    [s] = parse_text("# TYPE jobs counter\njobs_total 5\n")
    assert s.name == "jobs_total"


@pytest.mark.parametrize(
    "body",
    ["<html>oops</html>", "metric value_not_a_number\n", 'm{a="1" 2\n', 'm{a="1",a="2"} 1\n'],
)
def test_garbage_raises_value_error(body: str) -> None:
    with pytest.raises(ValueError):
        parse_text(body)


# ------------------------------------------- fast path == prometheus_client


NAMES = st.sampled_from(["x", "x_total", "jobs", "lat_bucket", "lat_count", "a:b", "9bad", "x-y"])
LABEL_NAMES = st.sampled_from(["code", "le", "a", "__name__", "1x", "route"])
LABEL_VALUES = st.sampled_from(["200", "+Inf", "0.25", "", "a b", 'q"q', "back\\\\slash", "nl\\n", "{}", ",", "é"])
VALUES = st.sampled_from(["1", "0", "12.5", "1e3", "NaN", "+Inf", "-Inf", "nan", "1_000", "abc", "0x10", ".5", "-2"])


@st.composite
def sample_line(draw: st.DrawFn) -> str:
    name = draw(NAMES)
    pairs = draw(st.lists(st.tuples(LABEL_NAMES, LABEL_VALUES), max_size=3))
    sep = draw(st.sampled_from([",", ", ", ","]))
    labels = sep.join(f'{k}="{v}"' for k, v in pairs)
    braces = (
        draw(st.sampled_from(["{%s}", "{%s}", "{%s,}", "%s"])) % labels
        if pairs
        else draw(st.sampled_from(["", "", "{}"]))
    )
    space = draw(st.sampled_from([" ", " ", "  ", "\t"]))
    ts = draw(st.sampled_from(["", "", " 1700000000000", " 17_0", " x", " 1 2"]))
    indent = draw(st.sampled_from(["", "", " "]))
    return f"{indent}{name}{braces}{space}{draw(VALUES)}{ts}"


@st.composite
def plain_line(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["x", "x_total", "jobs", "lat_bucket", "lat_count", "a:b"]))
    pairs = draw(st.dictionaries(st.sampled_from(["code", "le", "a"]), st.sampled_from(["200", "+Inf", "0.25", ""])))
    labels = ",".join(f'{k}="{v}"' for k, v in pairs.items())
    value = draw(st.sampled_from(["1", "12.5", "1e3", "NaN", "+Inf", "-2"]))
    return f"{name}{{{labels}}} {value}" if labels else f"{name} {value}"


COMMENTS = st.sampled_from(
    [
        "# TYPE x counter",
        "# TYPE x_total counter",
        "# TYPE jobs counter",
        "# TYPE lat histogram",
        "# TYPE x gauge",
        "# TYPE x",
        "# TYPE x bogus",
        '# TYPE "x" counter',
        '# HELP x Some help with a "quote" and \\\\ backslash',
        "# HELP x",
        "# HELP",
        "# just a comment",
        "#",
        "",
    ]
)


def _key(samples: list[Any]) -> list[tuple[Any, ...]]:
    return [(s.series_id, "NaN" if math.isnan(s.value) else s.value) for s in samples]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.one_of(plain_line(), plain_line(), plain_line(), sample_line(), COMMENTS), max_size=8),
    st.sampled_from(["\n", "\r\n"]),
)
def test_fast_path_agrees_with_prometheus_client(lines: list[str], newline: str) -> None:
    body = newline.join(lines) + newline
    try:
        expected: list[Any] | None = parse_text_reference(body)
    except Exception:
        expected = None
    try:
        got: list[Any] | None = parse_text(body)
    except Exception:
        got = None
    if expected is None:
        assert got is None, body
    else:
        assert got is not None, body
        assert _key(got) == _key(expected), body
