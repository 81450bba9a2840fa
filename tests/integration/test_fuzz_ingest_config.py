"""hypothesis against the config parser and the ingest endpoint.

Config: documents made by mutating the example configs and the OpenSLO / Sloth corpus (lines dropped,
repeated, swapped, cut, characters replaced) load or raise ConfigError whose problems name file and line;
never another exception, and never more than seconds or hundreds of MB per document.
Ingest: random pushes to the real app (build_service on SQLite) answer 2xx or 4xx, never 5xx, and the SLO's
counted events are exactly the sum of what was accepted."""

from __future__ import annotations

import json
import math
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slo_service.settings import Settings
from slo_service.specs import ConfigError, load_config
from slo_service.wiring import Service, build_service
from tests.integration.test_api_fuzz import FUZZ_CONFIG
from tests.support.auth import ADMIN_TOKEN

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted([*ROOT.glob("examples/*.yaml"), *ROOT.glob("examples/*/*.yaml"), *ROOT.glob("tests/corpus/*/*.yaml")])
SEED_LINES = [p.read_text(encoding="utf-8").splitlines(keepends=True) for p in SEEDS]
NOISE = st.sampled_from(["", "&a ", "*a", "[", "]", "{", "}", ": ", "- ", "'", '"', "\t", "!!python/object ", "1e999",
                         "-1", "~", "<<: *a", "\x00", "\u202e", "99999999999999999999", "  ", "#"])  # fmt: skip


@st.composite
def mutated_config(draw: st.DrawFn) -> str:
    lines = list(draw(st.sampled_from(SEED_LINES)))
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["drop", "repeat", "swap", "cut", "noise", "indent"]))
        if kind == "drop":
            del lines[i]
        elif kind == "repeat":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "cut":
            lines = [*lines[:i], lines[i][: draw(st.integers(0, len(lines[i])))]]
        elif kind == "noise":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(NOISE) + lines[i][at:]
        else:
            lines[i] = draw(st.sampled_from(["", " ", "    "])) + lines[i].lstrip(" ")
    return "".join(lines)


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated_config())
def test_mutated_configs_load_or_name_file_and_line(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        started, rss = time.monotonic(), _max_rss_mb()
        try:
            load_config([path])
        except ConfigError as exc:
            assert exc.problems
            for problem in exc.problems:
                assert str(problem).startswith(f"{path}:"), problem
        elapsed = time.monotonic() - started
    assert elapsed < 10, f"{elapsed:.1f}s for one document"  # a bound on runaway work, not a benchmark
    assert _max_rss_mb() - rss < 300


NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("fuzz-ingest")
    config = tmp / "fuzz.yaml"
    config.write_text(FUZZ_CONFIG)
    options: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp}/fuzz.db",
        "config": [str(config)],
        "admin_token": ADMIN_TOKEN,
        "data_dir": str(tmp / "data"),
    }
    svc = build_service(Settings(**options))
    yield svc
    svc.close()


values = st.one_of(
    st.integers(0, 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10, -1),
    st.sampled_from([1e12, 1e13, "7", None, True, [], {}]),
)
stamps = st.one_of(
    st.integers(1, 120).map(lambda m: (NOW - timedelta(minutes=m)).timestamp()),
    st.integers(1, 120).map(lambda m: (NOW - timedelta(minutes=m)).isoformat()),
    st.sampled_from([0, -1, 1e20, "yesterday", (NOW + timedelta(hours=2)).timestamp(), NOW.timestamp() * 1000]),
)
label_values = st.text(max_size=8) | st.sampled_from(["x" * 5000])
metrics = st.sampled_from(["scored_total", "scored_ok_total", "scored_errors_total", "bad name", ""])
labels = st.dictionaries(st.sampled_from(["a", "b", "a-b", "__name__"]), label_values, max_size=3)
samples = st.fixed_dictionaries({"metric": metrics, "value": values}, optional={"timestamp": stamps, "labels": labels})
bodies = st.fixed_dictionaries(
    {"source": st.sampled_from(["batch", "batch", "nope", ""]), "samples": st.lists(samples, max_size=6)}
)

accepted = {"scored_total": 0.0, "scored_ok_total": 0.0}


def _period(client: TestClient) -> dict[str, Any]:
    status = client.get("/api/v1/slos/fraud/scored").json().get("status") or {}
    return (status.get("windows") or {}).get("period") or {}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_random_pushes_are_2xx_or_4xx_and_exactly_what_was_accepted_is_counted(service: Service, body: Any) -> None:
    client = TestClient(service.app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    # json.dumps writes NaN and Infinity as bare words, which are not JSON: the API must refuse them (4xx)
    data = json.dumps(body)
    response = client.post("/api/v1/ingest", content=data, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert isinstance(response.json()["message"], str)
    else:
        assert response.status_code == 202, response.text
        # a push the SLO cannot use (e.g. a sample without timestamp) is named in `errors`: nothing counted
        if "fraud/scored" in response.json()["errors"]:
            return
        for s in body["samples"]:
            if s["metric"] in accepted:
                accepted[s["metric"]] += float(s["value"])
    service.runtime.evaluate()
    period = _period(client)
    assert math.isclose(period.get("total", 0), accepted["scored_total"]), (period, accepted)
    # Good events pushed without (enough) total events for their minute are accepted but counted only up to
    # that minute's total (a push is checked on its own, not against what earlier pushes stored).
    good = period.get("good", 0)
    assert good <= accepted["scored_ok_total"] + 1e-9 and good <= period.get("total", 0) + 1e-9, (period, accepted)
