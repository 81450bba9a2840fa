"""One table row per validation rule: the message, the field path and the line it points at."""

from __future__ import annotations

from pathlib import Path

import pytest

from slo_service.specs import Problem, validate_files

VALID = """\
apiVersion: slo-service/v1
services:
  - name: svc
    labels: {team: ml}
sources:
  - name: scr
    type: scrape
    url: http://localhost:9105/metrics
  - name: prom
    type: promql
    url: http://prometheus:9090
  - name: pushed
    type: push
slos:
  - service: svc
    name: ok
    objective: 99
    period: 28d
    sli:
      ratio:
        source: scr
        good: 'x_total{code="200"}'
        total: x_total
"""

OK_SLO = VALID[VALID.index("  - service: svc") :]

RATIO = """\
      ratio:
        source: scr
        good: 'x_total{code="200"}'
        total: x_total
"""

LATENCY = """\
      latency:
        source: scr
        histogram: h_seconds
        threshold: 0.25
        buckets: [0.1, 0.25, 0.5]
"""

THRESHOLD = """\
      threshold:
        source: scr
        metric: 'gpu_ratio{gpu="0"}'
        op: "<"
        value: 0.9
"""

TIMESLICES = "    period: 28d\n    budgeting: {method: timeslices, slice: 5m}\n"


def edit(*replacements: tuple[str, str]) -> str:
    text = VALID
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def check(tmp_path: Path, text: str) -> tuple[str, list[Problem]]:
    path = tmp_path / "slo.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path), validate_files([path])


def test_the_base_document_of_these_tables_is_valid(tmp_path: Path) -> None:
    assert check(tmp_path, VALID)[1] == []


VARIANTS_THAT_ARE_VALID = [
    pytest.param(
        [("source: scr", "source: prom"), ("good: 'x_total{code=\"200\"}'", "good: sum(rate(x[5m]))")],
        id="promql-source-takes-promql",
    ),
    pytest.param([("        good: 'x_total", "        bad: 'x_total")], id="bad-instead-of-good"),
    pytest.param([("source: scr", "source: pushed")], id="push-source-takes-selectors"),
    pytest.param([(RATIO, LATENCY)], id="latency-threshold-on-a-bucket"),
    pytest.param([(RATIO, LATENCY.replace("        buckets: [0.1, 0.25, 0.5]\n", ""))], id="latency-without-buckets"),
    pytest.param([(RATIO, LATENCY), ("    period: 28d\n", TIMESLICES)], id="latency-with-timeslices"),
    pytest.param([(RATIO, THRESHOLD), ("    period: 28d\n", TIMESLICES)], id="threshold-with-timeslices"),
    pytest.param([("period: 28d", "period: {rolling: 90d}")], id="rolling-90d"),
    pytest.param([("period: 28d", "period: 1d")], id="rolling-1d"),
    pytest.param([("period: 28d", "period: {calendar: month}")], id="calendar-default-utc"),
    pytest.param([("objective: 99", "objective: 99.95")], id="fractional-objective"),
    pytest.param(
        [
            (
                "    url: http://prometheus:9090\n",
                "    url: https://prometheus:9090\n    headers: {X-Scope-OrgID: a}\n    backfill: false\n",
            )
        ],
        id="promql-options",
    ),
    pytest.param([("type: scrape\n", "type: scrape\n    body_size_limit: 512KB\n")], id="body-size-limit"),
    pytest.param([("type: scrape\n", "type: scrape\n    body_size_limit: '0'\n")], id="no-body-size-limit"),
]


@pytest.mark.parametrize("replacements", VARIANTS_THAT_ARE_VALID)
def test_valid_variants_have_no_problems(tmp_path: Path, replacements: list[tuple[str, str]]) -> None:
    _, problems = check(tmp_path, edit(*replacements))
    assert [str(p) for p in problems] == []


CASES = [
    # ---- file structure and fields
    (
        "unknown-nested-field",
        [("good: 'x", "goood: 'x")],
        22,
        "slos[0].sli.ratio.goood",
        "unknown field 'goood' (did you mean 'good'?); allowed fields: source, total, good, bad",
    ),
    (
        "unknown-top-level-field",
        [("services:\n", "owner: me\nservices:\n")],
        2,
        "owner",
        "unknown field 'owner'; allowed fields: apiVersion, kind, services, sources, slos, alerting",
    ),
    (
        "unknown-service-field",
        [("    labels: {team: ml}", "    labels: {team: ml}\n    tier: 1")],
        5,
        "services[0].tier",
        "unknown field 'tier'; allowed fields: name, description, labels",
    ),
    (
        "wrong-kind",
        [("services:\n", "kind: Settings\nservices:\n")],
        2,
        "kind",
        "Input should be 'Config'; got str 'Settings'",
    ),
    (
        "missing-required-field",
        [("    objective: 99\n", "")],
        15,
        "slos[0].objective",
        "required field is missing",
    ),
    (
        "section-not-a-list",
        [
            (
                "services:\n  - name: svc\n    labels: {team: ml}\n",
                "services:\n  name: svc\n  labels: {team: ml}\n",
            )
        ],
        2,
        "services",
        "Input should be a valid list; got a mapping",
    ),
    (
        "item-not-a-mapping",
        [("slos:\n", "slos:\n  - just-a-string\n")],
        15,
        "slos[0]",
        "expected a mapping, got str 'just-a-string'",
    ),
    (
        "duplicate-yaml-key",
        [("    objective: 99\n", "    objective: 99\n    objective: 98\n")],
        18,
        "slos[0].objective",
        "duplicate key 'objective'; first given at line 17",
    ),
    # ---- objective
    (
        "objective-wrong-type",
        [("objective: 99", "objective: high")],
        17,
        "slos[0].objective",
        "expected a number, got str 'high'",
    ),
    (
        "objective-quoted-number",
        [("objective: 99", 'objective: "99.9"')],
        17,
        "slos[0].objective",
        "expected a number, got str '99.9': YAML reads quoted numbers, and exponents without a dot such as 1e3, "
        "as text; write a plain number such as 99.9",
    ),
    (
        "objective-100",
        [("objective: 99", "objective: 100")],
        17,
        "slos[0].objective",
        "objective 100 leaves no error budget",
    ),
    (
        "objective-0",
        [("objective: 99", "objective: 0")],
        17,
        "slos[0].objective",
        "objective 0 is meaningless",
    ),
    (
        "objective-negative",
        [("objective: 99", "objective: -1")],
        17,
        "slos[0].objective",
        "objective -1 must be a percentage strictly between 0 and 100",
    ),
    (
        "objective-as-ratio-above-100",
        [("objective: 99", "objective: 999")],
        17,
        "slos[0].objective",
        "objective 999 must be a percentage strictly between 0 and 100",
    ),
    # ---- names, duplicates and references
    (
        "slo-name-rule",
        [("name: ok", "name: Ok!")],
        16,
        "slos[0].name",
        "invalid name 'Ok!': names must match ^[a-z0-9]([a-z0-9_.-]*[a-z0-9])?$",
    ),
    (
        "service-name-rule",
        [("- name: svc", "- name: -svc"), ("service: svc", "service: -svc")],
        3,
        "services[0].name",
        "invalid name '-svc'",
    ),
    (
        "source-name-rule",
        [("- name: scr", "- name: Scr"), ("source: scr", "source: Scr")],
        6,
        "sources[0].name",
        "invalid name 'Scr'",
    ),
    (
        "duplicate-service",
        [("    labels: {team: ml}\n", "    labels: {team: ml}\n  - name: svc\n")],
        5,
        "services[1].name",
        "duplicate service name 'svc'; first defined at {file}:3",
    ),
    (
        "duplicate-source",
        [("    type: push\n", "    type: push\n  - {name: scr, type: push}\n")],
        14,
        "sources[3].name",
        "duplicate source name 'scr'; first defined at {file}:6",
    ),
    (
        "duplicate-slo",
        [(OK_SLO, OK_SLO + OK_SLO)],
        25,
        "slos[1].name",
        "duplicate SLO svc/ok; first defined at {file}:16",
    ),
    (
        "unknown-service",
        [("service: svc", "service: svx")],
        15,
        "slos[0].service",
        "unknown service 'svx'; known services: svc",
    ),
    (
        "unknown-source",
        [("source: scr", "source: scx")],
        21,
        "slos[0].sli.ratio.source",
        "unknown source 'scx'; known sources: prom, pushed, scr",
    ),
    (
        "unknown-source-type",
        [("type: push", "type: kafka")],
        13,
        "sources[2].type",
        "unknown source type 'kafka'; source types: scrape, promql, push",
    ),
    (
        "missing-source-type",
        [("    type: push\n", "")],
        12,
        "sources[2].type",
        "required field is missing; source types: scrape, promql, push",
    ),
    (
        "field-of-another-source-type",
        [("    type: push\n", "    type: push\n    url: http://x\n")],
        14,
        "sources[2].url",
        "unknown field 'url'; allowed fields: name, type",
    ),
    # ---- labels
    (
        "reserved-label",
        [("{team: ml}", "{service: ml}")],
        4,
        "services[0].labels.service",
        "label name 'service' is reserved",
    ),
    (
        "reserved-label-prefix",
        [("{team: ml}", "{__name__: ml}")],
        4,
        "services[0].labels.__name__",
        "label name '__name__' is reserved",
    ),
    (
        "invalid-label-name",
        [("{team: ml}", "{team-name: ml}")],
        4,
        "services[0].labels.team-name",
        "invalid label name 'team-name'",
    ),
    (
        "label-value-number",
        [("{team: ml}", "{tier: 1}")],
        4,
        "services[0].labels.tier",
        'expected a string, got int 1; quote it, e.g. "1"',
    ),
    (
        "slo-reserved-label",
        [("    name: ok\n", "    name: ok\n    labels:\n      window: x\n")],
        18,
        "slos[0].labels.window",
        "label name 'window' is reserved",
    ),
    (
        "reserved-outcome-label",
        [("{team: ml}", "{outcome: ok}")],
        4,
        "services[0].labels.outcome",
        "label name 'outcome' is reserved: the service sets outcome, service, slo, window itself",
    ),
    # ---- sources
    (
        "timeout-not-below-interval",
        [("type: scrape\n", "type: scrape\n    interval: 10s\n    timeout: 10s\n")],
        9,
        "sources[0].timeout",
        "timeout 10s must be shorter than interval 10s",
    ),
    (
        "default-timeout-not-below-interval",
        [("type: scrape\n", "type: scrape\n    interval: 5s\n")],
        8,
        "sources[0].interval",
        "timeout 5s (the default) must be shorter than interval 5s",
    ),
    (
        "max-gap-not-above-interval",
        [("type: scrape\n", "type: scrape\n    interval: 1m\n    max_gap: 1m\n")],
        9,
        "sources[0].max_gap",
        "max_gap 1m must be longer than interval 1m: a gap is longer than one interval",
    ),
    (
        "default-max-gap-not-above-interval",
        [("type: scrape\n", "type: scrape\n    interval: 2h\n    timeout: 5s\n")],
        8,
        "sources[0].interval",
        "max_gap 1h (the default) must be longer than interval 2h",
    ),
    (
        "bad-max-gap",
        [("type: scrape\n", "type: scrape\n    max_gap: forever\n")],
        8,
        "sources[0].max_gap",
        "invalid duration 'forever'; use forms like 30s, 5m, 1h, 7d, 4w",
    ),
    (
        "url-not-http",
        [("url: http://localhost:9105", "url: localhost:9105")],
        8,
        "sources[0].url",
        "url 'localhost:9105/metrics' must be an http:// or https:// URL with a host",
    ),
    (
        "bad-interval",
        [("type: scrape\n", "type: scrape\n    interval: fast\n")],
        8,
        "sources[0].interval",
        "invalid duration 'fast'; use forms like 30s, 5m, 1h, 7d, 4w",
    ),
    (
        "interval-not-a-string",
        [("type: scrape\n", "type: scrape\n    interval: 15\n")],
        8,
        "sources[0].interval",
        "expected a duration with a unit such as 15s, 5m or 7d; got int 15",
    ),
    (
        "body-size-limit-without-unit",
        [("type: scrape\n", "type: scrape\n    body_size_limit: '1048576'\n")],
        8,
        "sources[0].body_size_limit",
        "invalid size '1048576'; use forms like 512KB, 10MB or 1GB (1024-based, as Prometheus reads them), or 0",
    ),
    (
        "body-size-limit-unknown-unit",
        [("type: scrape\n", "type: scrape\n    body_size_limit: 10mb\n")],
        8,
        "sources[0].body_size_limit",
        "unknown unit 'mb' in size '10mb'; units: B, KB, MB, GB, TB (or KiB, MiB, ...), 1024-based",
    ),
    (
        "body-size-limit-not-a-string",
        [("type: scrape\n", "type: scrape\n    body_size_limit: 10\n")],
        8,
        "sources[0].body_size_limit",
        'expected a size with a unit such as 512KB or 10MB, or "0" for no limit; got int 10',
    ),
    (
        "backfill-not-bool",
        [
            (
                "    url: http://prometheus:9090\n",
                "    url: http://prometheus:9090\n    backfill: yes please\n",
            )
        ],
        12,
        "sources[1].backfill",
        "expected true or false, got str 'yes please'",
    ),
    # ---- period
    (
        "bad-period-duration",
        [("period: 28d", "period: 28days")],
        18,
        "slos[0].period",
        "invalid duration '28days'",
    ),
    (
        "rolling-too-long",
        [("period: 28d", "period: {rolling: 91d}")],
        18,
        "slos[0].period.rolling",
        "rolling period 91d is out of range: it must be between 1d and 90d",
    ),
    (
        "rolling-too-short",
        [("period: 28d", "period: 12h")],
        18,
        "slos[0].period",
        "rolling period 12h is out of range",
    ),
    (
        "bad-timezone",
        [("period: 28d", "period: {calendar: month, timezone: Mars/Base}")],
        18,
        "slos[0].period.timezone",
        "unknown timezone 'Mars/Base'; use an IANA time zone name",
    ),
    (
        "calendar-unit",
        [("period: 28d", "period: {calendar: year}")],
        18,
        "slos[0].period.calendar",
        "Input should be 'week' or 'month'; got str 'year'",
    ),
    (
        "rolling-and-calendar",
        [("period: 28d", "period: {rolling: 7d, calendar: week}")],
        18,
        "slos[0].period",
        "set exactly one of rolling (e.g. rolling: 28d) or calendar (week or month); got both",
    ),
    (
        "timezone-on-rolling",
        [("period: 28d", "period: {rolling: 7d, timezone: UTC}")],
        18,
        "slos[0].period.timezone",
        "timezone only applies to calendar periods",
    ),
    (
        "period-number",
        [("period: 28d", "period: 28")],
        18,
        "slos[0].period",
        "period must be a duration such as 28d",
    ),
    # ---- budgeting
    (
        "timeslices-without-slice",
        [("    period: 28d\n", "    period: 28d\n    budgeting: {method: timeslices}\n")],
        19,
        "slos[0].budgeting",
        "method timeslices needs slice",
    ),
    (
        "slice-not-whole-minutes",
        [("    period: 28d\n", TIMESLICES.replace("5m", "90s"))],
        19,
        "slos[0].budgeting.slice",
        "slice 90s must be a whole number of minutes between 1m and 1h",
    ),
    (
        "slice-too-long",
        [("    period: 28d\n", TIMESLICES.replace("5m", "2h"))],
        19,
        "slos[0].budgeting.slice",
        "slice 2h must be a whole number of minutes between 1m and 1h",
    ),
    (
        "slice-threshold-above-1",
        [("    period: 28d\n", TIMESLICES.replace("5m}", "5m, slice_threshold: 1.5}"))],
        19,
        "slos[0].budgeting.slice_threshold",
        "slice_threshold 1.5 must be greater than 0 and at most 1",
    ),
    (
        "slice-threshold-0",
        [("    period: 28d\n", TIMESLICES.replace("5m}", "5m, slice_threshold: 0}"))],
        19,
        "slos[0].budgeting.slice_threshold",
        "slice_threshold 0 must be greater than 0",
    ),
    (
        "slice-with-occurrences",
        [("    period: 28d\n", "    period: 28d\n    budgeting: {slice: 5m}\n")],
        19,
        "slos[0].budgeting.slice",
        "slice only applies to method timeslices",
    ),
    (
        "unknown-budgeting-method",
        [("    period: 28d\n", "    period: 28d\n    budgeting: {method: events}\n")],
        19,
        "slos[0].budgeting.method",
        "Input should be 'occurrences' or 'timeslices'",
    ),
    # ---- ratio
    (
        "ratio-good-and-bad",
        [("        total: x_total\n", "        total: x_total\n        bad: 'x_total{code=\"500\"}'\n")],
        20,
        "slos[0].sli.ratio",
        "set exactly one of good or bad (the other is total minus it); got both",
    ),
    (
        "ratio-neither-good-nor-bad",
        [("        good: 'x_total{code=\"200\"}'\n", "")],
        20,
        "slos[0].sli.ratio",
        "set exactly one of good or bad (the other is total minus it); got neither",
    ),
    (
        "ratio-bad-selector",
        [('{code="200"}', "{code=200}")],
        22,
        "slos[0].sli.ratio.good",
        "expected a quoted value at position 13 in selector 'x_total{code=200}' "
        "(scrape sources take a series selector, not PromQL)",
    ),
    (
        "ratio-promql-on-scrape",
        [("total: x_total", "total: sum(rate(x_total[5m]))")],
        23,
        "slos[0].sli.ratio.total",
        "(scrape sources take a series selector, not PromQL)",
    ),
    (
        "ratio-push-bad-regex",
        [("source: scr", "source: pushed"), ('code="200"', 'code=~"5("')],
        22,
        "slos[0].sli.ratio.good",
        "invalid regex '5('",
    ),
    (
        "ratio-promql-empty",
        [("source: scr", "source: prom"), ("total: x_total", "total: ' '")],
        23,
        "slos[0].sli.ratio.total",
        "must not be empty",
    ),
    (
        "no-sli-kind",
        [(RATIO, "      {}\n")],
        19,
        "slos[0].sli",
        "set exactly one SLI kind: ratio, latency or threshold; got none",
    ),
    (
        "two-sli-kinds",
        [(RATIO, RATIO + LATENCY)],
        19,
        "slos[0].sli",
        "set exactly one SLI kind: ratio, latency or threshold; got ratio and latency",
    ),
    # ---- latency
    (
        "latency-threshold-not-a-boundary",
        [(RATIO, LATENCY.replace("threshold: 0.25", "threshold: 0.3"))],
        23,
        "slos[0].sli.latency.threshold",
        "threshold 0.3 is not a bucket boundary of h_seconds; boundaries: 0.1, 0.25, 0.5",
    ),
    (
        "latency-threshold-zero",
        [(RATIO, LATENCY.replace("threshold: 0.25", "threshold: 0"))],
        23,
        "slos[0].sli.latency.threshold",
        "threshold 0 must be a positive number of seconds",
    ),
    (
        "latency-bucket-suffix",
        [(RATIO, LATENCY.replace("h_seconds", "h_seconds_bucket"))],
        22,
        "slos[0].sli.latency.histogram",
        "give the histogram's base name without _bucket: 'h_seconds'",
    ),
    (
        "latency-histogram-not-a-name",
        [(RATIO, LATENCY.replace("h_seconds", "'h seconds'"))],
        22,
        "slos[0].sli.latency.histogram",
        "'h seconds' is not a metric name",
    ),
    (
        "latency-matchers-with-metric",
        [(RATIO, LATENCY + "        matchers: 'x{route=\"/p\"}'\n")],
        25,
        "slos[0].sli.latency.matchers",
        "matchers must be label matchers only",
    ),
    (
        "latency-matchers-syntax",
        [(RATIO, LATENCY + "        matchers: '{route=/p}'\n")],
        25,
        "slos[0].sli.latency.matchers",
        "expected a quoted value at position 7",
    ),
    (
        "latency-buckets-unsorted",
        [(RATIO, LATENCY.replace("[0.1, 0.25, 0.5]", "[0.5, 0.25, 0.1]"))],
        24,
        "slos[0].sli.latency.buckets",
        "buckets must be positive and strictly increasing",
    ),
    # ---- threshold
    (
        "threshold-needs-timeslices",
        [(RATIO, THRESHOLD)],
        20,
        "slos[0].sli.threshold",
        "threshold SLIs need budgeting method timeslices",
    ),
    (
        "threshold-bad-op",
        [(RATIO, THRESHOLD.replace('op: "<"', 'op: "=="')), ("    period: 28d\n", TIMESLICES)],
        24,
        "slos[0].sli.threshold.op",
        "Input should be '<', '<=', '>' or '>='; got str '=='",
    ),
    (
        "threshold-bad-aggregate",
        [(RATIO, THRESHOLD + "        aggregate: median\n"), ("    period: 28d\n", TIMESLICES)],
        26,
        "slos[0].sli.threshold.aggregate",
        "Input should be 'max', 'min', 'avg' or 'sum'; got str 'median'",
    ),
    (
        "threshold-bad-selector",
        [(RATIO, THRESHOLD.replace('{gpu="0"}', '{gpu="0"')), ("    period: 28d\n", TIMESLICES)],
        23,
        "slos[0].sli.threshold.metric",
        "expected ',' or '}'",
    ),
    # ---- apiVersion
    (
        "unsupported-api-version",
        [("slo-service/v1", "slo-service/v2")],
        1,
        "apiVersion",
        "unsupported apiVersion 'slo-service/v2'; supported versions: slo-service/v1",
    ),
    (
        "missing-api-version",
        [("apiVersion: slo-service/v1\n", "")],
        1,
        "apiVersion",
        "apiVersion is missing; supported versions: slo-service/v1",
    ),
]


@pytest.mark.parametrize(("replacements", "line", "field", "phrase"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_reports_one_problem_at_its_field_and_line(
    tmp_path: Path, replacements: list[tuple[str, str]], line: int, field: str, phrase: str
) -> None:
    file, problems = check(tmp_path, edit(*replacements))
    assert len(problems) == 1, "\n".join(str(p) for p in problems)
    problem = problems[0]
    assert (problem.file, problem.line, problem.field) == (file, line, field)
    assert phrase.replace("{file}", file) in problem.message
    assert str(problem) == f"{file}:{line}: {field}: {problem.message}"
