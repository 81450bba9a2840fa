"""Drift in K consecutive runs of a monitor, read from the real drift store, sends one retrain with the drift
summary and the data window to a GitLab pipeline trigger stand-in (token, ref and variables as GitLab wants)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pytest_httpserver import HTTPServer

from slo_service.adapters.sql import migrate
from slo_service.adapters.sql.action_store import SqlActionStore
from slo_service.adapters.sql.drift_store import SqlDriftStore
from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.targets import build_targets
from slo_service.core.actions.policy import (
    ActionKind,
    Conditions,
    DriftCondition,
    ResponsePolicy,
    ResponsesConfig,
    TargetConfig,
    TargetKind,
)
from slo_service.core.clock import ManualClock
from slo_service.core.drift.monitor import ColumnRun, DriftRun, RunStatus
from slo_service.core.model import Config
from slo_service.pipeline.actions import ActionService
from tests.support.fake_ci import GITLAB_TOKEN, FakeGitLab

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _run(hour: int, drifted: bool) -> DriftRun:
    at = T0 + timedelta(hours=hour)
    column = ColumnRun("amount", "num", "wasserstein", 0.4 if drifted else 0.01, 0.1, drifted)
    return DriftRun(
        "fraud-features",
        at - timedelta(minutes=1),
        at,
        RunStatus.OK,
        drifted_share=1.0 if drifted else 0.0,
        dataset_drifted=drifted,
        columns=(column,),
    )


def test_three_drifted_runs_in_a_row_send_one_retrain_to_gitlab(sqlite_url: str, httpserver: HTTPServer) -> None:
    migrate.upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    clock = ManualClock(T0)
    drift = SqlDriftStore(engine, clock=clock)
    gitlab = FakeGitLab(httpserver)
    target = TargetConfig("gitlab", TargetKind.GITLAB, gitlab.url, {"project": "ml/fraud", "ref": "main"}, GITLAB_TOKEN)
    policy = ResponsePolicy(
        "retrain-on-drift", Conditions(drift=DriftCondition("fraud-features", 3)), ActionKind.RETRAIN, "gitlab"
    )
    service = ActionService(SqlActionStore(engine, clock), clock.now)
    service.drift_store = drift
    responses = ResponsesConfig(policies=(policy,), targets={"gitlab": target})
    service.apply(responses, build_targets(responses.targets))
    config = Config(services={}, sources={}, slos=())

    def evaluate_after(run: DriftRun) -> None:
        drift.save_run(run)
        clock.set(run.finished_at)
        service.evaluate(config, {}, [])
        service.send_due()

    for hour, drifted in enumerate([True, False, True, True]):  # a streak of two: not yet
        evaluate_after(_run(hour, drifted))
    assert gitlab.pipelines == []
    evaluate_after(_run(4, True))  # the third drifted run in a row
    evaluate_after(_run(5, True))  # a longer streak is the same episode
    for _ in range(3):
        service.evaluate(config, {}, [])
        service.send_due()
    [pipeline] = gitlab.pipelines
    assert pipeline["ref"] == "main" and pipeline["variables[ACTION]"] == "retrain"
    assert pipeline["variables[MONITOR]"] == "fraud-features"
    payload = json.loads(pipeline["variables[SLO_PAYLOAD]"])
    summary = payload["drift_summary"]
    assert summary["consecutive"] == 3 and summary["drifted_columns"] == ["amount"]
    assert [r["drift_found"] for r in summary["runs"]] == [True, True, True]
    assert payload["data_window"]["end"] == "2026-12-07T13:59:00Z"
    [decision] = service.store.decisions()
    assert len(decision.decision.why["drift"]["runs"]) == 3
    engine.dispose()
