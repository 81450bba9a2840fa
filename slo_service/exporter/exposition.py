"""The SLO families of /metrics, rendered as exposition text once per evaluation and served from a cache.

With 10,000 SLOs the SLO families are ~180,000 series: building prometheus_client metric objects and
formatting them on every scrape took seconds, on the threads the evaluation needs too. Here the text is
built straight from the statuses when an evaluation (or a config reload) made the last one stale, at most
once per evaluation whoever scrapes how often, together with a gzip stream that every scrape finishes with the
small, live rest of the metrics (the compressor's state is copied, so the SLO part is compressed once).
The text is the one prometheus_client would write for SLOCollector's families (tests/integration/
test_metrics_exposition.py parses both); which windows are exported is configurable (ExportWindows).
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.utils import floatToGoString

from slo_service.core import conventions as c
from slo_service.core.windows import ALERT_WINDOWS, PERIOD_WINDOW

ALL = "all"
"""Export every window the SLO is evaluated over (its rules' windows too)."""


@dataclass(frozen=True)
class ExportWindows:
    """Which windows of each windowed family are exported; ("all",) exports every evaluated window.

    The defaults are what the committed dashboards read (tests/unit/test_dashboards.py checks it): burn rate
    over every alert window (the detail dashboard's "burn rate by window" panel, the overview's 1h/6h/1d/3d
    columns), SLI and data coverage over 1h and the period.
    """

    sli: tuple[str, ...] = ("1h", PERIOD_WINDOW)
    burn_rate: tuple[str, ...] = tuple(ALERT_WINDOWS)
    coverage: tuple[str, ...] = ("1h", PERIOD_WINDOW)

    @classmethod
    def every(cls) -> ExportWindows:
        return cls((ALL,), (ALL,), (ALL,))

    @classmethod
    def parse(cls, spec: Mapping[str, Sequence[str]]) -> ExportWindows:
        """From the setting: {"sli": [...], "burn_rate": [...], "coverage": [...]}; a family left out keeps
        its default."""
        unknown = set(spec) - {"sli", "burn_rate", "coverage"}
        if unknown:
            raise ValueError(f"unknown metric families {sorted(unknown)}: use sli, burn_rate, coverage")
        default = cls()
        return cls(
            tuple(spec.get("sli", default.sli)),
            tuple(spec.get("burn_rate", default.burn_rate)),
            tuple(spec.get("coverage", default.coverage)),
        )

    def wants(self, family: tuple[str, ...], window: str) -> bool:
        return ALL in family or window in family


def fmt(value: float) -> str:
    """A sample value as prometheus_client writes it (Go's float formatting)."""
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]


def escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


@dataclass
class _Family:
    name: str
    kind: str
    help: str
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        if not self.lines:
            return f"# HELP {self.name} {_help(self.help)}\n# TYPE {self.name} {self.kind}\n"
        return f"# HELP {self.name} {_help(self.help)}\n# TYPE {self.name} {self.kind}\n" + "".join(self.lines)


def render_slo_families(runtime: object, export_labels: Sequence[str], windows: ExportWindows) -> bytes:
    """The SLO families of `runtime` (a RuntimeView) as text exposition format 0.0.4."""
    from slo_service.exporter.collector import SLO_HELP, period_label

    rt: object = runtime
    config = rt.config  # type: ignore[attr-defined]
    statuses = dict(rt.statuses)  # type: ignore[attr-defined]
    counts = getattr(rt.history, "event_counts", {})  # type: ignore[attr-defined]
    fam = {name: _Family(name, kind, text) for name, (kind, text) in SLO_HELP.items()}
    objective, period, sli, burn, coverage = (
        fam[c.SLO_OBJECTIVE_RATIO].lines,
        fam[c.SLO_PERIOD_SECONDS].lines,
        fam[c.SLO_SLI_RATIO].lines,
        fam[c.SLO_BURN_RATE].lines,
        fam[c.SLO_DATA_COVERAGE_RATIO].lines,
    )
    remaining, consumed, period_consumed = (
        fam[c.SLO_ERROR_BUDGET_REMAINING_RATIO].lines,
        fam[c.SLO_ERROR_BUDGET_CONSUMED_RATIO].lines,
        fam[c.SLO_PERIOD_BUDGET_CONSUMED_RATIO].lines,
    )
    events, info = fam[c.SLO_EVENTS + "_total"].lines, fam[c.SLO_INFO].lines
    meta_keys = sorted(
        {k for s in config.services.values() for k in s.labels} | {k for s in config.slos for k in s.labels}
    )
    meta_keys = [k for k in meta_keys if k not in c.RESERVED_LABELS]
    sli_w, burn_w, cov_w = windows.sli, windows.burn_rate, windows.coverage
    for slo in config.slos:
        service = config.services.get(slo.service)
        labels = {**(service.labels if service else {}), **slo.labels}
        values = [slo.service, slo.name, *(labels.get(k, "") for k in export_labels)]
        names = [c.SERVICE_LABEL, c.SLO_LABEL, *export_labels]
        base = ",".join(f'{n}="{escape(v)}"' for n, v in zip(names, values, strict=True))
        objective.append(f"{c.SLO_OBJECTIVE_RATIO}{{{base}}} {fmt(slo.objective)}\n")
        period.append(f"{c.SLO_PERIOD_SECONDS}{{{base}}} {fmt(slo.period.nominal_length.total_seconds())}\n")
        info_labels = {
            c.SERVICE_LABEL: slo.service,
            c.SLO_LABEL: slo.name,
            "sli_kind": str(slo.sli.kind),
            "budgeting": str(slo.budgeting.method),
            "period": period_label(slo.period),
            **{k: labels.get(k, "") for k in meta_keys},
        }
        info.append(
            f"{c.SLO_INFO}{{{','.join(f'{k}={chr(34)}{escape(v)}{chr(34)}' for k, v in info_labels.items())}}} 1.0\n"
        )
        good, total = counts.get(slo.key, (0.0, 0.0))
        events.append(f'{c.SLO_EVENTS}_total{{{base},outcome="good"}} {fmt(good)}\n')
        events.append(f'{c.SLO_EVENTS}_total{{{base},outcome="bad"}} {fmt(max(total - good, 0.0))}\n')
        st = statuses.get(slo.key)
        if st is None:
            continue
        for name, w in st.windows.items():
            wl = f'{{{base},window="{escape(name)}"}} '
            if w.sli is not None and (ALL in sli_w or name in sli_w):
                sli.append(f"{c.SLO_SLI_RATIO}{wl}{fmt(w.sli)}\n")
            if w.burn_rate is not None and (ALL in burn_w or name in burn_w):
                burn.append(f"{c.SLO_BURN_RATE}{wl}{fmt(w.burn_rate)}\n")
            if ALL in cov_w or name in cov_w:
                coverage.append(f"{c.SLO_DATA_COVERAGE_RATIO}{wl}{fmt(w.data_coverage)}\n")
        if st.budget.remaining_ratio is not None:
            remaining.append(f"{c.SLO_ERROR_BUDGET_REMAINING_RATIO}{{{base}}} {fmt(st.budget.remaining_ratio)}\n")
        if st.budget.consumed_ratio is not None:
            consumed.append(f"{c.SLO_ERROR_BUDGET_CONSUMED_RATIO}{{{base}}} {fmt(st.budget.consumed_ratio)}\n")
        if st.budget.period_consumed_ratio is not None:
            period_consumed.append(
                f"{c.SLO_PERIOD_BUDGET_CONSUMED_RATIO}{{{base}}} {fmt(st.budget.period_consumed_ratio)}\n"
            )
    return "".join(f.text() for f in fam.values()).encode()


class SLOExposition:
    """The cached SLO part of /metrics: rebuilt when the runtime has a newer evaluation or config."""

    def __init__(self, runtime: object, export_labels: Sequence[str], windows: ExportWindows) -> None:
        self.runtime = runtime
        self.export_labels = [lbl for lbl in export_labels if lbl not in c.RESERVED_LABELS]
        self.windows = windows
        self._lock = threading.Lock()
        self._seen: tuple[object, object] | None = None  # the evaluation and config the text was built from
        self._text = b""
        self._gzip_head = b""
        self._gzip: zlib._Compress | None = None
        self.renders = 0  # how many times the text was built (tests, benchmarks)

    def refresh(self) -> None:
        """Build the text now if it is stale (the evaluation job calls this, so scrapes find it ready)."""
        self._get()

    def _get(self) -> tuple[bytes, bytes, zlib._Compress]:
        if self._gzip is not None and not self._lock.acquire(blocking=False):
            # another thread is rendering a newer text (the evaluation job, right after the cycle): serve the
            # previous one rather than wait seconds for it, as a scrape a moment earlier would have
            return self._text, self._gzip_head, self._gzip
        if self._gzip is not None:
            self._lock.release()
        with self._lock:
            rt = self.runtime
            seen = (getattr(rt, "last_evaluation", None), getattr(rt, "config", None))
            if (
                self._seen is None
                or self._gzip is None
                or any(a is not b for a, b in zip(seen, self._seen, strict=False))
            ):
                self._text = render_slo_families(self.runtime, self.export_labels, self.windows)
                gz = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: a gzip member; level 1: fastest
                self._gzip_head = gz.compress(self._text) + gz.flush(zlib.Z_SYNC_FLUSH)
                self._gzip = gz
                self._seen = seen
                self.renders += 1
            return self._text, self._gzip_head, self._gzip

    def body(self, rest: bytes, gzip: bool) -> bytes:
        """The SLO part followed by `rest` (the live self-metrics), gzip-compressed as one member if asked."""
        text, head, gz = self._get()
        if not gzip:
            return text + rest
        tail = gz.copy()
        return head + tail.compress(rest) + tail.flush()
