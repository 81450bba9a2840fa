"""Pushed drift batches through the real service process (issue 13): bad batches refused with 422 naming the
row, column and expected type, nothing stored and the next run unaffected; batches listed and deleted; the first
run counts the batches pushed before it; labels pushed an hour after their predictions are joined (accuracy as
computed by hand, ROC AUC as sklearn computes it); a run before the labels is no event for the quality SLO; an
all-empty column is a data-quality failure (stored, alerting, counted bad, named in the report)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tests.support.process import ServiceProcess, run_service, wait_for

pytestmark = pytest.mark.timeout(300)

CONFIG = """apiVersion: slo-service/v1
kind: Config
services: [{name: model}]
monitors:
  - name: scored
    current: {push: true, timestamp_column: ts}
    reference: {file: reference.csv}
    window: 1h
    schedule: {interval: 1h}
    sample_rows: 1000
    report_retention: 30d
    columns: {numerical: [x], categorical: [c], id: id, prediction: pred}
    ground_truth: {push: true, label_column: y, score_column: score, max_delay: 2h}
  - name: empties
    current: {push: true, timestamp_column: ts}
    reference: {file: reference.csv}
    window: 1h
    schedule: {interval: 1h}
    sample_rows: 1000
    columns: {numerical: [x], categorical: [c], id: id, prediction: pred}
slos:
  - {service: model, name: accuracy, objective: 90, period: 7d,
     sli: {drift: {monitor: scored, check: quality, metric: accuracy, op: ">=", value: 0.5}}}
  - {service: model, name: scored-runs, objective: 90, period: 7d, sli: {drift: {monitor: scored, check: run}}}
  - {service: model, name: empties-runs, objective: 90, period: 7d, sli: {drift: {monitor: empties, check: run}}}
"""


def rows(n: int, seed: int, at: datetime, prefix: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    return pd.DataFrame(
        {
            "id": [f"{prefix}{i}" for i in range(n)],
            "ts": [(at - timedelta(seconds=i)).isoformat() for i in range(n)],
            "x": rng.normal(10.0, 2.0, n).round(3),
            "c": rng.choice(["a", "b", "c"], n).tolist(),
            "pred": (score > 0.5).astype(int),
            "score": score.round(4),
        }
    )


@dataclass
class World:
    svc: ServiceProcess
    now: datetime

    def push(self, monitor: str, frame: pd.DataFrame | list[dict[str, Any]]) -> Any:
        records = frame if isinstance(frame, list) else frame.to_dict(orient="records")
        return self.svc.post(f"/api/v1/monitors/{monitor}/batches", json={"records": records})

    def run(self, monitor: str) -> dict[str, Any]:
        response = self.svc.post(f"/api/v1/monitors/{monitor}/run", timeout=180)
        assert response.status_code == 200, response.text
        run: dict[str, Any] = response.json()
        return run

    def slo_total(self, slo: str) -> tuple[float, float]:
        status = self.svc.get(f"/api/v1/slos/model/{slo}").json().get("status") or {}
        period = (status.get("windows") or {}).get("period") or {}
        return float(period.get("total", 0)), float(period.get("good", 0))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("push")
    now = datetime.now(UTC)
    rows(300, 1, now - timedelta(days=30), "ref").to_csv(tmp / "reference.csv", index=False)
    (tmp / "monitors.yaml").write_text(CONFIG)
    env = {"SLO_SERVICE_DATA_DIR": str(tmp / "data")}
    with run_service([tmp / "monitors.yaml"], f"sqlite:///{tmp}/slo.db", tmp, env=env) as svc:
        yield World(svc, now)


BAD = [
    ({"x": "old"}, 1, "records[1].x: expected a number (numerical column), got string 'old'"),
    ({"x": True}, 1, "records[1].x: expected a number (numerical column), got boolean True"),
    ({"x": {"v": 1}}, 1, "records[1].x: expected a number (numerical column), got an object"),
    ({"c": ["a", "b"]}, 1, "records[1].c: expected a string, number or boolean (categorical column), got a list"),
    ({"pred": [1]}, 1, "records[1].pred: expected a string, number or boolean, got a list"),
]


def test_bad_batches_are_refused_naming_row_column_and_type_and_nothing_is_stored(world: World) -> None:
    good = rows(120, 2, world.now - timedelta(minutes=5), "g")
    assert world.push("scored", good).status_code == 201  # before the first run: it must count (item 6)
    for change, row, message in BAD:
        records = good.iloc[:3].to_dict(orient="records")
        records[row] = {**records[row], **change}
        r = world.push("scored", records)
        assert r.status_code == 422, r.text
        assert r.json()["message"] == message
    # a mixed-type column (numbers and strings) was a 500 ArrowTypeError: now the first string is named
    mixed = good.iloc[:4].to_dict(orient="records")
    mixed[2]["x"] = "n/a"
    r = world.push("scored", mixed)
    assert r.status_code == 422 and r.json()["message"].startswith("records[2].x: expected a number"), r.text
    missing = good.drop(columns=["x"]).iloc[:2].to_dict(orient="records")
    r = world.push("scored", missing)
    assert r.status_code == 422 and r.json()["message"].startswith("records[0].x: missing; expected a number")
    buf = io.BytesIO()
    good.iloc[:5].assign(x="text").to_parquet(buf)
    r = world.svc.post(
        "/api/v1/monitors/scored/batches", content=buf.getvalue(), headers={"content-type": "application/x-parquet"}
    )
    assert r.status_code == 422 and r.json()["message"].startswith("rows[0].x: expected a number"), r.text
    # categories mixing numbers and strings are one kind, strings: accepted
    cats = good.iloc[:2].to_dict(orient="records")
    cats[0]["c"] = 7
    extra = world.push("scored", cats)
    assert extra.status_code == 201, extra.text

    listed = world.svc.get("/api/v1/monitors/scored/batches").json()
    assert [(b["rows"], b["kind"]) for b in listed] == [(120, "rows"), (2, "rows")]
    gone = world.svc.request("DELETE", f"/api/v1/monitors/scored/batches/{extra.json()['id']}")
    assert gone.status_code == 200 and gone.json()["rows"] == 2
    assert world.svc.request("DELETE", f"/api/v1/monitors/scored/batches/{extra.json()['id']}").status_code == 404
    assert [b["rows"] for b in world.svc.get("/api/v1/monitors/scored/batches").json()] == [120]

    first = world.run("scored")  # the first run of the monitor: the batch pushed before it counts
    assert first["status"] == "ok", first["reason"]
    assert first["rows_current"] == 120 and first["data_quality"] == []
    assert {c["column"]: c["method"] for c in first["columns"]}["x"] == "ks"  # the stat test id, not "K-S p_value"


def test_labels_an_hour_late_are_joined_and_a_run_before_them_is_no_event(world: World) -> None:
    # predictions made 65 minutes ago: outside the 1h window, inside max_delay 2h
    early = rows(200, 3, world.now - timedelta(minutes=65), "p")
    assert world.push("scored", early).status_code == 201
    before = world.run("scored")
    assert before["status"] == "ok", before["reason"]
    assert before["quality"] == {"labelled_rows": 0.0}  # no label yet: no metric ...
    wait_for(lambda: world.slo_total("scored-runs")[0] >= 2, timeout=30, what="the runs as SLO events")
    assert world.slo_total("accuracy") == (0.0, 0.0)  # ... and no event, never a bad one

    rng = np.random.default_rng(4)
    labelled = early.iloc[:150]
    y = np.where(rng.random(150) < 0.8, labelled["pred"], 1 - labelled["pred"])  # 80 % right
    labels = pd.DataFrame({"id": labelled["id"], "y": y})
    r = world.push("scored", labels)
    assert r.status_code == 201 and r.json()["kind"] == "labels", r.text

    after = world.run("scored")
    assert after["status"] == "ok", after["reason"]
    quality = after["quality"]
    assert quality["labelled_rows"] == 150
    assert quality["accuracy"] == pytest.approx(float(np.mean(labelled["pred"].to_numpy() == y)), abs=1e-12)
    assert quality["roc_auc"] == pytest.approx(roc_auc_score(y, labelled["score"]), abs=1e-12)
    wait_for(lambda: world.slo_total("accuracy") == (1.0, 1.0), timeout=30, what="the quality SLO's event")


def test_an_all_empty_column_is_a_data_quality_failure(world: World) -> None:
    batch = rows(100, 5, world.now - timedelta(minutes=5), "e").assign(c=None)
    assert world.push("empties", batch).status_code == 201
    run = world.run("empties")
    assert run["status"] == "ok", run["reason"]
    assert run["data_quality"] == ["column 'c' is entirely empty (100 rows)"]
    assert "data quality: column 'c' is entirely empty" in run["reason"]
    stored = world.svc.get(f"/api/v1/drift/runs/{run['id']}").json()
    assert stored["data_quality"] == run["data_quality"]

    def firing() -> set[str]:
        alerts = world.svc.get("/api/v1/alerts", params={"state": "firing"}).json()
        return {a["labels"]["alertname"] for a in alerts if a["labels"].get("monitor") == "empties"}

    assert "DriftDataQuality" in wait_for(firing, timeout=30, what="DriftDataQuality")
    wait_for(lambda: world.slo_total("empties-runs") == (1.0, 0.0), timeout=30, what="a bad run event")
    report = world.svc.get(f"/api/v1/drift/runs/{run['id']}/report")
    assert report.status_code == 200
    assert "slo-data-quality" in report.text and "column &#x27;c&#x27; is entirely empty" in report.text
