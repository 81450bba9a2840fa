"""The public API of slo_service.specs: loading files and directories, and reporting problems."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from slo_service.core.model import (
    Aggregation,
    BudgetingMethod,
    CalendarUnit,
    Comparison,
    LatencySLI,
    PeriodKind,
    RatioSLI,
    ScrapeSource,
    ThresholdSLI,
)
from slo_service.specs import ConfigError, Problem, expand_paths, load_config, validate_files

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "slo-service.yaml"

SERVICES = """\
apiVersion: slo-service/v1
services:
  - name: fraud-detector
    labels: {team: ml-platform}
  - name: ranker
"""

SOURCES = """\
apiVersion: slo-service/v1
sources:
  - name: demo
    type: scrape
    url: http://127.0.0.1:9105/metrics
  - {name: prom, type: promql, url: "http://prometheus:9090", headers: {X-Scope-OrgID: team-a}}
  - {name: batch, type: push}
"""

SLOS = """\
apiVersion: slo-service/v1
kind: Config
slos:
  - service: fraud-detector
    name: availability
    objective: 99.9
    period: 28d
    sli: {ratio: {source: demo, bad: 'model_requests_total{code=~"5.."}', total: model_requests_total}}
  - service: ranker
    name: availability
    objective: 99
    period: {calendar: month}
    sli: {ratio: {source: prom, good: 'sum(rate(ok_total[5m]))', total: 'sum(rate(all_total[5m]))'}}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# ---- the committed example


def test_example_config_loads_into_the_expected_model() -> None:
    config = load_config([EXAMPLE])
    assert config.files == (str(EXAMPLE),)
    assert list(config.services) == ["fraud-detector"]
    assert config.services["fraud-detector"].labels["tier"] == "1"
    source = config.sources["demo"]
    assert isinstance(source, ScrapeSource)
    assert (source.url, source.interval, source.timeout) == (
        "http://127.0.0.1:9105/metrics",
        timedelta(seconds=15),
        timedelta(seconds=5),
    )
    keys = [slo.key for slo in config.slos]
    assert keys == [
        "fraud-detector/availability",
        "fraud-detector/latency",
        "fraud-detector/prediction-success",
        "fraud-detector/feature-freshness",
        "fraud-detector/gpu-memory",
    ]

    availability = config.slo("fraud-detector/availability")
    assert availability is not None
    assert availability.objective == 0.995
    assert availability.period.kind is PeriodKind.ROLLING
    assert availability.period.length == timedelta(days=28)
    assert availability.labels == {"journey": "scoring"}
    assert availability.budgeting.method is BudgetingMethod.OCCURRENCES
    assert availability.sli == RatioSLI(
        source="demo", total="model_requests_total", good='model_requests_total{code!~"5.."}'
    )

    latency = config.slo("fraud-detector/latency")
    assert latency is not None and isinstance(latency.sli, LatencySLI)
    assert latency.sli.threshold == 0.25
    assert latency.sli.matchers == '{route="/predict"}'
    assert latency.sli.buckets == (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

    success = config.slo("fraud-detector/prediction-success")
    assert success is not None
    assert success.objective == 0.999
    assert success.period.length == timedelta(days=30)

    freshness = config.slo("fraud-detector/feature-freshness")
    assert freshness is not None and isinstance(freshness.sli, ThresholdSLI)
    assert freshness.period.kind is PeriodKind.CALENDAR
    assert (freshness.period.unit, freshness.period.timezone) == (CalendarUnit.WEEK, "Europe/Berlin")
    assert freshness.budgeting.method is BudgetingMethod.TIMESLICES
    assert freshness.budgeting.slice == timedelta(minutes=5)
    assert freshness.budgeting.slice_threshold == 1.0
    assert (freshness.sli.op, freshness.sli.value, freshness.sli.aggregate) == (
        Comparison.LT,
        900.0,
        Aggregation.MAX,
    )

    gpu = config.slo("fraud-detector/gpu-memory")
    assert gpu is not None and isinstance(gpu.sli, ThresholdSLI)
    assert gpu.budgeting.slice == timedelta(minutes=1)
    assert gpu.sli.metric == "model_gpu_memory_used_ratio"


def test_example_config_validates_cleanly() -> None:
    assert validate_files([EXAMPLE]) == []


# ---- several files and directories


def test_services_sources_and_slos_may_be_split_across_files(tmp_path: Path) -> None:
    files = [
        write(tmp_path, "a.yaml", SERVICES),
        write(tmp_path, "b.yaml", SOURCES),
        write(tmp_path, "c.yml", SLOS),
    ]
    config = load_config(files)
    assert config.files == tuple(str(f) for f in files)
    assert list(config.services) == ["fraud-detector", "ranker"]
    assert list(config.sources) == ["demo", "prom", "batch"]
    assert [s.key for s in config.slos] == ["fraud-detector/availability", "ranker/availability"]
    assert config.sources["prom"].kind == "promql"
    ranker = config.slo("ranker/availability")
    assert ranker is not None
    assert ranker.period.unit is CalendarUnit.MONTH and ranker.period.timezone == "UTC"


def test_a_directory_stands_for_its_yaml_files_in_name_order(tmp_path: Path) -> None:
    write(tmp_path, "30-slos.yml", SLOS)
    write(tmp_path, "10-services.yaml", SERVICES)
    write(tmp_path, "20-sources.yaml", SOURCES)
    write(tmp_path, "README.md", "not yaml")
    (tmp_path / "nested.yaml").mkdir()
    config = load_config([tmp_path])
    assert [Path(f).name for f in config.files] == ["10-services.yaml", "20-sources.yaml", "30-slos.yml"]
    assert len(config.slos) == 2


def test_expand_paths_keeps_files_as_given_and_drops_repeats(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", SERVICES)
    b = write(tmp_path, "b.yml", SOURCES)
    missing = tmp_path / "missing.yaml"
    assert expand_paths([b, tmp_path, missing, str(a)]) == [b, a, missing]


def test_a_single_path_is_accepted_where_a_list_is_expected(tmp_path: Path) -> None:
    path = write(tmp_path, "all.yaml", SERVICES)
    assert validate_files(str(path)) == []


def test_names_must_be_unique_across_files(tmp_path: Path) -> None:
    a = write(
        tmp_path,
        "a.yaml",
        SERVICES + SOURCES.removeprefix("apiVersion: slo-service/v1\n") + "slos:\n" + SLOS.split("slos:\n")[1],
    )
    b = write(tmp_path, "b.yaml", SERVICES)
    c = write(tmp_path, "c.yaml", SLOS)
    problems = [str(p) for p in validate_files([a, b, c])]
    assert problems == [
        f"{b}:3: services[0].name: duplicate service name 'fraud-detector'; first defined at {a}:3",
        f"{b}:5: services[1].name: duplicate service name 'ranker'; first defined at {a}:5",
        f"{c}:5: slos[0].name: duplicate SLO fraud-detector/availability; first defined at {a}:14",
        f"{c}:10: slos[1].name: duplicate SLO ranker/availability; first defined at {a}:19",
    ]


def test_an_slo_may_name_a_source_defined_in_a_later_file(tmp_path: Path) -> None:
    files = [write(tmp_path, "a.yaml", SLOS), write(tmp_path, "b.yaml", SERVICES + SOURCES[27:])]
    assert validate_files(files) == []


# ---- every problem, never a traceback


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    text = SLOS.replace("objective: 99.9", "objective: 100").replace("period: 28d", "period: 28x")
    good = write(tmp_path, "a.yaml", SERVICES + SOURCES[27:])
    bad = write(tmp_path, "b.yaml", text.replace("name: ranker", "name: Ranker"))
    problems = validate_files([good, bad])
    assert [(p.line, p.field) for p in problems] == [
        (6, "slos[0].objective"),
        (7, "slos[0].period"),
    ]
    with pytest.raises(ConfigError) as info:
        load_config([good, bad])
    assert info.value.problems == problems
    assert str(info.value) == "\n".join(str(p) for p in problems)


def test_problems_come_sorted_by_file_then_line(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", SLOS.replace("service: ranker", "service: nobody"))
    b = write(tmp_path, "b.yaml", SERVICES.replace("name: ranker", "name: Ranker") + SOURCES[27:])
    problems = validate_files([a, b])
    assert [(p.file, p.line) for p in problems] == [(str(a), 9), (str(b), 5)]


FILE_PROBLEMS = [
    ("empty", "", None, "(file)", "file is empty; expected a mapping with apiVersion: slo-service/v1"),
    ("only-comments", "# nothing yet\n", None, "(file)", "file is empty"),
    (
        "top-level-list",
        "- apiVersion: slo-service/v1\n",
        1,
        "(top level)",
        "the top level must be a mapping with apiVersion, services, sources and slos; got a list",
    ),
    ("top-level-scalar", "hello\n", 1, "(top level)", "got str 'hello'"),
    ("yaml-syntax", "apiVersion: slo-service/v1\nservices:\n  - name: [svc\n", 4, "(yaml)", "invalid YAML:"),
    (
        "yaml-tab-indent",
        "apiVersion: slo-service/v1\nservices:\n\t- name: svc\n",
        3,
        "(yaml)",
        "found character '\\t' that cannot start any token",
    ),
    (
        "unknown-api-version",
        "apiVersion: v1\n",
        1,
        "apiVersion",
        "unsupported apiVersion 'v1'; supported versions: slo-service/v1",
    ),
    ("missing-api-version", "services: []\n", 1, "apiVersion", "apiVersion is missing"),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "phrase"), [c[1:] for c in FILE_PROBLEMS], ids=[c[0] for c in FILE_PROBLEMS]
)
def test_file_level_problems(tmp_path: Path, text: str, line: int | None, field: str, phrase: str) -> None:
    path = write(tmp_path, "slo.yaml", text)
    problems = validate_files([path])
    assert len(problems) == 1, problems
    assert (problems[0].file, problems[0].line, problems[0].field) == (str(path), line, field)
    assert phrase in problems[0].message


def test_unreadable_inputs_become_problems(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00apiVersion")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    problems = [str(p) for p in validate_files([empty_dir, missing, binary])]
    assert problems == [
        f"{empty_dir}: (file): directory holds no *.yaml or *.yml files",
        f"{missing}: (file): file not found",
        f"{binary}: (file): not UTF-8 text: invalid start byte",
    ]


def test_no_paths_at_all_is_a_problem() -> None:
    assert [str(p) for p in validate_files([])] == ["(no files): (file): no configuration files given"]


def test_a_broken_file_does_not_make_every_slo_elsewhere_unknown(tmp_path: Path) -> None:
    broken = write(tmp_path, "a.yaml", SERVICES + "  - name: [unclosed\n")
    slos = write(tmp_path, "b.yaml", SLOS)
    problems = validate_files([broken, slos])
    assert [p.field for p in problems] == ["(yaml)"]


# ---- Problem and ConfigError


def test_problem_formats_as_file_line_field_message() -> None:
    assert str(Problem("a.yaml", 3, "slos[0].name", "bad")) == "a.yaml:3: slos[0].name: bad"
    assert str(Problem("a.yaml", None, "(file)", "file not found")) == "a.yaml: (file): file not found"


def test_config_error_joins_its_problems_with_newlines() -> None:
    problems = [Problem("a.yaml", 1, "x", "one"), Problem("b.yaml", None, "y", "two")]
    error = ConfigError(problems)
    assert error.problems == problems
    assert str(error) == "a.yaml:1: x: one\nb.yaml: y: two"
