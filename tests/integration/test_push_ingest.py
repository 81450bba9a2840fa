"""Push ingest through the real service process: idempotent, validated, and visible in history."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.process import run_service, wait_for

CONFIG = """apiVersion: slo-service/v1
services:
  - name: nightly-features
    labels: {team: data}
sources:
  - name: batch
    type: push
slos:
  - service: nightly-features
    name: run-success
    objective: 90
    period: 30d
    sli:
      ratio:
        source: batch
        good: 'pipeline_runs_total{status="success"}'
        total: pipeline_runs_total
"""


def test_push_ingest_counts_each_idempotency_key_once(db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "push.yaml"
    config.write_text(CONFIG)
    now = datetime.now(UTC).replace(second=0, microsecond=0)  # slices are whole minutes
    two_hours_ago = (now - timedelta(hours=2)).isoformat()
    body = {
        "source": "batch",
        "samples": [
            {"metric": "pipeline_runs_total", "labels": {"status": "success"}, "value": 8, "timestamp": two_hours_ago},
            {
                "metric": "pipeline_runs_total",
                "labels": {"status": "failed"},
                "value": 2,
                "timestamp": (now - timedelta(hours=2)).timestamp(),
            },
        ],
    }
    with run_service([config], db_url, tmp_path) as svc:
        first = svc.post("/api/v1/ingest", json=body, headers={"Idempotency-Key": "run-2026-11-28"})
        assert first.status_code == 202, first.text
        assert first.json() == {"stored": True, "duplicate": False, "observations": 1, "errors": {}}

        # The producer retries: the same key from many threads at once stores nothing more.
        codes: list[int] = []

        def retry() -> None:
            codes.append(
                svc.post("/api/v1/ingest", json=body, headers={"Idempotency-Key": "run-2026-11-28"}).status_code
            )

        threads = [threading.Thread(target=retry) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert codes == [200] * 8

        window = wait_for(
            lambda: (
                (svc.get("/api/v1/slos/nightly-features/run-success").json().get("status") or {})
                .get("windows", {})
                .get("period")
            ),
            what="an evaluation",
        )
        window = wait_for(
            lambda: (
                (w := svc.get("/api/v1/slos/nightly-features/run-success").json()["status"]["windows"]["period"])[
                    "total"
                ]
                == 10
                and w
            ),
            what="10 events",
        )
        assert window["good"] == 8
        assert window["sli"] == pytest.approx(0.8)
        assert svc.get("/api/v1/slos/nightly-features/run-success").json()["status"]["windows"]["1h"]["sli"] is None

        history = svc.get(
            "/api/v1/slos/nightly-features/run-success/history",
            params={"start": (now - timedelta(hours=3)).isoformat(), "end": now.isoformat(), "step": "1h"},
        ).json()
        assert [p["total"] for p in history["points"]] == [0.0, 10.0, 0.0]
        assert history["points"][1]["sli"] == pytest.approx(0.8)

        # A different key is a different batch.
        second = svc.post("/api/v1/ingest", json={**body, "idempotency_key": "run-2026-11-29"})
        assert second.status_code == 202
        wait_for(
            lambda: (
                svc.get("/api/v1/slos/nightly-features/run-success").json()["status"]["windows"]["period"]["total"]
                == 20
            ),
            what="20 events",
        )


@pytest.fixture(scope="module")
def push_service(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("push")
    config = tmp / "push.yaml"
    config.write_text(CONFIG)
    with run_service([config], f"sqlite:///{tmp}/push.db", tmp) as svc:
        yield svc


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"source": "nope", "samples": [{"metric": "m", "value": 1}]}, "unknown source 'nope'"),
        ({"source": "batch", "samples": []}, "samples"),
        ({"source": "batch", "samples": [{"metric": "m", "value": 1, "extra": 1}]}, "samples[0].extra"),
        ({"source": "batch", "samples": [{"metric": "m", "value": 1, "timestamp": "soon"}]}, "samples[0].timestamp"),
        ({"source": "batch", "samples": [{"metric": "m", "value": 1, "timestamp": 4102444800}]}, "in the future"),
        ({"source": "batch", "samples": [{"metric": "", "value": 1}]}, "samples[0].metric"),
        ({"source": "batch", "samples": [{"metric": "m", "value": "NaN"}]}, "finite"),
        ({"samples": [{"metric": "m", "value": 1}]}, "source"),
    ],
    ids=[
        "unknown-source",
        "no-samples",
        "unknown-field",
        "bad-timestamp",
        "future",
        "empty-metric",
        "nan",
        "no-source",
    ],
)
def test_bad_ingest_bodies_get_4xx_naming_the_field(push_service, body: dict, needle: str) -> None:  # type: ignore[no-untyped-def]
    response = push_service.post("/api/v1/ingest", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert needle in response.json()["message"]
    assert push_service.get("/healthz").status_code == 200
