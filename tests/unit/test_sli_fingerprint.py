"""The SLI fingerprint stored with counter baselines must not change when its implementation does."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
from pathlib import Path

import pytest

from slo_service.core.extract import sli_fingerprint
from slo_service.specs.loader import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = [ROOT / "examples", ROOT / "tests" / "corpus", ROOT / "tests" / "golden"]


def _reference(sli: object) -> str:
    """The definition stored baselines were fingerprinted with."""
    text = json.dumps(dataclasses.asdict(sli), sort_keys=True, default=str)  # type: ignore[call-overload]
    return hashlib.sha256(text.encode()).hexdigest()[:32]


PROMETHEUS_SOURCE = """\
apiVersion: slo-service/v1
kind: Config
sources:
  - {name: prometheus, type: promql, url: "http://127.0.0.1:9090"}
"""


def _slis() -> list[object]:
    out: list[object] = []
    for root in CONFIGS:
        for path in sorted([*root.rglob("*.y*ml"), *(d for d in root.rglob("*") if d.is_dir())]):
            try:
                config = load_config([str(path)])
            except ConfigError:  # files meant to be refused, or another kind of file: no SLIs
                continue
            out += [slo.sli for slo in config.slos]
    return out + _sloth_slis()


def _sloth_slis() -> list[object]:
    """Sloth specs read a promql source named 'prometheus': each is loaded beside one."""
    out: list[object] = []
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source.yaml"
        source.write_text(PROMETHEUS_SOURCE)
        for path in sorted((ROOT / "tests" / "corpus" / "sloth").glob("*.yml")):
            try:
                config = load_config([str(source), str(path)])
            except ConfigError:  # files meant to be refused
                continue
            out += [slo.sli for slo in config.slos]
    return out


SLIS = _slis()


def test_the_examples_and_corpus_give_slis_of_every_kind() -> None:
    kinds = {type(sli).__name__ for sli in SLIS}
    assert len(SLIS) >= 20 and len(kinds) >= 5, kinds


@pytest.mark.parametrize("index", range(len(SLIS)))
def test_the_fingerprint_equals_the_asdict_digest(index: int) -> None:
    sli = SLIS[index]
    assert sli_fingerprint(sli) == _reference(sli)  # type: ignore[arg-type]
