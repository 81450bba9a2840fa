"""The monitor options segment_by / max_segments / estimated_performance and the estimated_* quality SLIs."""

from __future__ import annotations

from pathlib import Path

from slo_service.core.drift.monitor import PerformanceEstimation
from slo_service.core.model import DriftCheck
from slo_service.specs.loader import load_config
from tests.unit.test_specs_monitors import DRIFT_SLI, check, edit, write

OPTIONS = "    labels: {team: ml}\n"
SCORE = '      positive_label: "1"\n'


def test_segments_and_estimation_are_read(tmp_path: Path) -> None:
    text = edit(
        (SCORE, SCORE + "      score_column: score\n"),
        (
            OPTIONS,
            OPTIONS + "    segment_by: region\n    max_segments: 5\n    estimated_performance: {threshold: 0.4}\n",
        ),
        (DRIFT_SLI, "      drift: {monitor: mon, check: quality, metric: estimated_accuracy, value: 0.9}\n"),
    )
    config = load_config([write(tmp_path, text)])
    m = config.monitors["mon"]
    assert (m.segment_by, m.max_segments) == ("region", 5)
    assert m.estimation == PerformanceEstimation(score_column="score", threshold=0.4)  # ground truth's score column
    (slo,) = config.slos
    assert slo.sli.check is DriftCheck.QUALITY and slo.sli.metric == "estimated_accuracy"  # type: ignore[union-attr]


def _problems(tmp_path: Path, *edits: tuple[str, str]) -> list[str]:
    _, problems = check(tmp_path, edit(*edits))
    return [p.message for p in problems]


def test_bad_options_are_reported(tmp_path: Path) -> None:
    assert _problems(tmp_path, (OPTIONS, OPTIONS + "    segment_by: age\n")) == [
        "column 'age' already has a role; segment by a column that is not drift-tested"
    ]
    assert _problems(tmp_path, (OPTIONS, OPTIONS + "    segment_by: region\n    max_segments: 51\n")) == [
        "max_segments 51 must be between 1 and 50 (the rarer values are pooled in the segment __other__)"
    ]
    assert _problems(tmp_path, (OPTIONS, OPTIONS + "    estimated_performance: {}\n")) == [
        "name the score column (positive-class probability): score_column: score"
    ]
    assert _problems(
        tmp_path, (OPTIONS, OPTIONS + "    estimated_performance: {score_column: s, calibrate: true}\n")
    ) == ["calibrate needs columns.target: the reference's labels"]
    assert _problems(
        tmp_path, (DRIFT_SLI, "      drift: {monitor: mon, check: quality, metric: estimated_accuracy, value: 0.9}\n")
    ) == ["metric estimated_accuracy needs estimated_performance on monitor 'mon' (CBPE from its scores)"]
