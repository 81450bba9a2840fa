"""Every file of tests/corpus/sloth imports as Sloth defines it, or is refused with the expected message."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from slo_service.core.model import Config, ErrorRatioSLI, RatioSLI
from slo_service.specs import load_config, validate_files

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "sloth"

PAGE = {"page-fast": ("1h", "5m", 14.4), "page-slow": ("6h", "30m", 6.0)}
TICKET = {"ticket-fast": ("1d", "2h", 3.0), "ticket-slow": ("3d", "6h", 1.0)}


@dataclass(frozen=True)
class SLOExpect:
    sli: str  # "events" (plain rates, counted), "as-written" (other events: a ratio as written) or "raw"
    alert_name: str | None
    # labels per enabled severity, as Sloth puts them on that alert (alerting.labels + the alert's own)
    severities: dict[str, dict[str, str]] = field(default_factory=dict)
    annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # the SLO's labels
    objective: float | None = None


@dataclass(frozen=True)
class Imports:
    slos: dict[str, SLOExpect]


@dataclass(frozen=True)
class Refused:
    messages: tuple[str, ...]  # each "file:line: field: message start" must be reported


WIFI_SEV = {"page": {"severity": "office"}, "ticket": {"severity": "warning"}}

TABLE: dict[str, Imports | Refused] = {
    "home-wifi.yml": Imports(
        {
            "office-wifi/good-client-signal": SLOExpect(
                "as-written",
                "OfficeWifiSignalPoor",
                WIFI_SEV,
                labels={"site": "berlin", "component": "access-points"},
                objective=0.95,
            ),
            "office-wifi/no-client-disconnected": SLOExpect("as-written", "OfficeWifiSignalLost", WIFI_SEV),
        }
    ),
    "getting-started.yml": Imports(
        {
            "checkout/requests-availability": SLOExpect(
                "events",
                "CheckoutHighErrorRate",
                {
                    "page": {"category": "availability", "severity": "pager", "routing_key": "payments"},
                    "ticket": {"category": "availability", "severity": "chat", "chat_channel": "#payments-alerts"},
                },
                annotations={
                    "page": {
                        "summary": "Checkout returns too many errors",
                        "runbook": "https://runbooks.acme.example/checkout/page",
                    },
                    "ticket": {"summary": "Checkout returns too many errors"},
                },
                labels={"owner": "payments", "repo": "acme/checkout", "tier": "1"},
                objective=0.999,
            )
        }
    ),
    "multifile.yml": Imports(
        {
            "search/requests-availability": SLOExpect(
                "events", "SearchHighErrorRate", {"page": {"severity": "pager"}, "ticket": {"severity": "chat"}}
            ),
            "suggest/requests-availability": SLOExpect(
                "events", "SuggestHighErrorRate", {"page": {}, "ticket": {}}, labels={"owner": "discovery", "tier": "2"}
            ),
        }
    ),
    "no-alerts.yml": Imports({"reports/http-availability": SLOExpect("events", None, {}, objective=0.9999)}),
    "raw-home-wifi.yml": Imports(
        {"office-wifi/average-client-signal": SLOExpect("raw", "OfficeWifiAverageSignalPoor", WIFI_SEV)}
    ),
    "averaged-total.yml": Imports(
        {"ingest/writes-availability": SLOExpect("as-written", "IngestWritesFailing", {"page": {}})}
    ),
    "apiserver-latency.yml": Imports(
        {
            "kube-api/requests-latency": SLOExpect(
                "events",
                "KubeApiLatencyHigh",
                {"page": {"category": "latency", "severity": "critical"}},
                annotations={"page": {"runbook": "https://runbooks.example/kube-api-latency"}},
                labels={"cluster": "prod-eu", "category": "latency"},
            )
        }
    ),
    "slo-plugins-debug.yml": Imports(
        {"checkout/requests-availability": SLOExpect("events", "CheckoutHighErrorRate", {"page": {}, "ticket": {}})}
    ),
    "k8s-getting-started.yml": Imports(
        {
            "checkout-k8s/requests-availability": SLOExpect(
                "events",
                "CheckoutHighErrorRate",
                {
                    "page": {"category": "availability", "severity": "pager", "routing_key": "payments"},
                    "ticket": {"category": "availability", "severity": "chat"},
                },
                annotations={
                    "page": {"summary": "Checkout returns too many errors"},
                    "ticket": {"summary": "Checkout returns too many errors"},
                },
                labels={"owner": "payments"},
            )
        }
    ),
    "k8s-multifile.yml": Imports(
        {
            "search-k8s/requests-availability": SLOExpect("events", "SearchHighErrorRate", {"page": {}, "ticket": {}}),
            "suggest-k8s/requests-availability": SLOExpect(
                "events", "SuggestHighErrorRate", {"page": {}}, objective=0.9995
            ),
        }
    ),
    "k8s-home-wifi.yml": Imports(
        {"office-wifi-k8s/good-client-signal": SLOExpect("as-written", "OfficeWifiSignalPoor", WIFI_SEV)}
    ),
    "k8s-raw.yml": Imports({"office-wifi-raw/average-client-signal": SLOExpect("raw", None, {})}),
    "plugin-sli.yml": Refused(
        ("plugin-sli.yml:8: slos[0].sli.plugin: SLI plugin 'acme_availability' is Sloth code and cannot run here",)
    ),
    "k8s-plugin-sli.yml": Refused(
        (
            "k8s-plugin-sli.yml:13: spec.slos[0].sli.plugin: SLI plugin 'acme_availability' is Sloth code",
            "k8s-plugin-sli.yml:19: spec.slos[0].alerting.page_alert: field 'page_alert' is not supported "
            "(the Sloth CRD spells it pageAlert)",
        )
    ),
    "slo-plugins-contrib.yml": Refused(
        (
            "slo-plugins-contrib.yml:9: slos[0].plugins.chain[0].id: SLO plugin 'sloth.dev/contrib/rule_intervals/v1'"
            " is Sloth code and cannot run here: it changes the rules Sloth generates",
        )
    ),
    "k8s-slo-plugins.yml": Refused(
        (
            "k8s-slo-plugins.yml:10: spec.sloPlugins.chain[0].id: SLO plugin "
            "'sloth.dev/contrib/denominator_corrected_rules/v1' is Sloth code",
        )
    ),
    "victoria-metrics.yml": Refused(
        (
            "victoria-metrics.yml:7: slo_plugins.chain[0].id: SLO plugin "
            "'sloth.dev/contrib/validate_victoria_metrics/v1' is Sloth code and cannot run here: its SLIs are "
            "MetricsQL",
        )
    ),
    "alert-windows.yml": Refused(("alert-windows.yml:3: kind: Sloth AlertWindows are options of Sloth's own",)),
    "missing-alert-name.yml": Refused(
        ("missing-alert-name.yml:11: slos[0].alerting: alerting.name is required unless page and ticket",)
    ),
    "missing-window.yml": Refused(
        ("missing-window.yml:9: slos[0].sli.events.error_query: the query must use the {{.window}} variable",)
    ),
}


def test_the_table_covers_the_corpus() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.suffix == ".yml"}
    assert files == set(TABLE)


def _load(tmp_path: Path, name: str) -> tuple[list[str], Config | None]:
    shutil.copy(CORPUS / "prometheus.yaml", tmp_path / "prometheus.yaml")
    shutil.copy(CORPUS / name, tmp_path / name)
    problems = [str(p).replace(f"{tmp_path}/", "") for p in validate_files([tmp_path])]
    return problems, None if problems else load_config([tmp_path])


@pytest.mark.parametrize("name", sorted(TABLE))
def test_corpus_file(tmp_path: Path, name: str) -> None:
    expected = TABLE[name]
    problems, config = _load(tmp_path, name)
    if isinstance(expected, Refused):
        for message in expected.messages:
            assert any(p.startswith(message) for p in problems), (message, problems)
        return
    assert config is not None, problems
    assert {s.key for s in config.slos} == set(expected.slos)
    assert config.alerting is not None
    for key, want in expected.slos.items():
        slo = config.slo(key)
        assert slo is not None
        if want.objective is not None:
            assert slo.objective == pytest.approx(want.objective)
        if want.labels:
            assert dict(slo.labels) == want.labels
        _check_sli(slo.sli, want.sli)
        policy = config.alerting.policy_for(key)
        assert policy.alert_name == want.alert_name
        assert not policy.budget_exhausted and policy.no_data_after is None  # Sloth has neither alert
        tiers = {t.name: t for t in policy.effective_tiers(slo.period.nominal_length)}
        expected_tiers = {
            **(PAGE if "page" in want.severities else {}),
            **(TICKET if "ticket" in want.severities else {}),
        }
        assert {n: (t.long_window_name, t.short_window_name, round(t.factor, 9)) for n, t in tiers.items()} == (
            expected_tiers
        )
        for tier in tiers.values():
            assert {**policy.labels, **tier.labels} == want.severities[tier.severity]
            # Sloth's default title and summary, under the SLO's and the alert's own annotations
            sloth = {
                "title": f"({tier.severity}) {{service}} {{slo}} SLO error budget burn rate is too fast.",
                "summary": "{service} {slo} SLO error budget burn rate is over expected.",
            }
            given = want.annotations.get(tier.severity, {})
            assert {**policy.annotations, **tier.annotations} == {**sloth, **given}


def _check_sli(sli: object, kind: str) -> None:
    if kind == "events":  # plain counter rates, counted: every rate( became increase(
        assert isinstance(sli, RatioSLI) and sli.bad is not None
        queries = [sli.bad, sli.total]
        assert all("rate(" not in q.replace("increase(", "") and "increase(" in q for q in queries)
    else:  # a ratio over the window, the queries as written (the corpus' have no increase( of their own)
        assert isinstance(sli, ErrorRatioSLI)
        assert (sli.total is None) == (kind == "raw")
        queries = [sli.error] + ([sli.total] if sli.total is not None else [])
        assert all("increase(" not in q for q in queries)
    assert all("$window" in q and "{{" not in q for q in queries)
