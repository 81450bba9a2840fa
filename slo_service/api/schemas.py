"""Request and response bodies of the API, and their conversion from the core model."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from slo_service.api.inputs import LABEL_NAME, MAX_NAME, METRIC_NAME, NO_NUL, Instant, Name
from slo_service.core.durations import format_duration
from slo_service.core.model import SLO, Config, DriftSLI, ErrorRatioSLI, LatencySLI, PeriodKind, RatioSLI, ThresholdSLI
from slo_service.core.slo_math import SLOStatus, WindowStatus


class WindowOut(BaseModel):
    window: str
    start: datetime
    end: datetime
    good: float
    total: float
    sli: float | None = Field(description="good/total; null when the window has no data")
    burn_rate: float | None
    data_coverage: float = Field(description="share of the window's slices that had data")
    has_data: bool


class BudgetOut(BaseModel):
    allowed_bad: float = Field(description="(1 - objective) * events (judged slices) so far in the period")
    consumed_bad: float = Field(description="bad events (bad slices) so far in the period")
    consumed_ratio: float | None = Field(description="consumed_bad / allowed_bad: the period's burn rate")
    remaining_ratio: float | None = Field(description="1 - consumed_ratio; negative when the budget is overspent")
    period_consumed_ratio: float | None = Field(
        default=None,
        description="timeslices only: bad slices / ((1 - objective) * every slice of the whole period)",
    )


class StatusOut(BaseModel):
    evaluated_at: datetime
    period_start: datetime
    period_end: datetime
    sli: float | None
    budget: BudgetOut
    windows: dict[str, WindowOut]
    data_gaps: list[str] = Field(description="windows with no data or incomplete data")


class SLOOut(BaseModel):
    service: str
    slo: str
    description: str
    objective: float = Field(description="objective as a ratio, e.g. 0.999")
    objective_percent: float
    period: dict[str, Any]
    budgeting: dict[str, Any]
    sli: dict[str, Any]
    labels: dict[str, str]
    status: StatusOut | None = None
    collection_error: str | None = None


def window_out(w: WindowStatus) -> WindowOut:
    return WindowOut(
        window=w.window,
        start=w.start,
        end=w.end,
        good=w.good,
        total=w.total,
        sli=w.sli,
        burn_rate=w.burn_rate,
        data_coverage=w.data_coverage,
        has_data=w.total > 0,
    )


def status_out(st: SLOStatus) -> StatusOut:
    return StatusOut(
        evaluated_at=st.evaluated_at,
        period_start=st.period_start,
        period_end=st.period_end,
        sli=st.period.sli,
        budget=BudgetOut(
            allowed_bad=st.budget.allowed_bad,
            consumed_bad=st.budget.consumed_bad,
            consumed_ratio=st.budget.consumed_ratio,
            remaining_ratio=st.budget.remaining_ratio,
            period_consumed_ratio=st.budget.period_consumed_ratio,
        ),
        windows={name: window_out(w) for name, w in st.windows.items()},
        data_gaps=[name for name, w in st.windows.items() if w.total == 0 or w.data_coverage < 0.999],
    )


def sli_out(slo: SLO) -> dict[str, Any]:
    sli = slo.sli
    if isinstance(sli, RatioSLI):
        return {"kind": "ratio", "source": sli.source, "good": sli.good, "bad": sli.bad, "total": sli.total}
    if isinstance(sli, LatencySLI):
        return {
            "kind": "latency",
            "source": sli.source,
            "histogram": sli.histogram,
            "matchers": sli.matchers,
            "threshold": sli.threshold,
        }
    if isinstance(sli, ErrorRatioSLI):
        return {"kind": "error_ratio", "source": sli.source, "error": sli.error, "total": sli.total}
    if isinstance(sli, DriftSLI):
        return {
            "kind": "drift",
            "monitor": sli.source,
            "check": str(sli.check),
            "column": sli.column,
            "metric": sli.metric,
            "op": str(sli.op),
            "value": sli.value,
        }
    assert isinstance(sli, ThresholdSLI)
    return {
        "kind": "threshold",
        "source": sli.source,
        "metric": sli.metric,
        "op": str(sli.op),
        "value": sli.value,
        "aggregate": str(sli.aggregate),
    }


def slo_out(
    slo: SLO, config: Config, status: SLOStatus | None, error: str | None = None, detail: bool = True
) -> SLOOut:
    service = config.services.get(slo.service)
    period: dict[str, Any]
    if slo.period.kind is PeriodKind.ROLLING:
        period = {"kind": "rolling", "length": format_duration(slo.period.nominal_length)}
    else:
        period = {"kind": "calendar", "unit": str(slo.period.unit), "timezone": slo.period.timezone}
    budgeting: dict[str, Any] = {"method": str(slo.budgeting.method)}
    if slo.budgeting.slice is not None:
        budgeting["slice"] = format_duration(slo.budgeting.slice)
        budgeting["slice_threshold"] = slo.budgeting.slice_threshold
    st = status_out(status) if status is not None else None
    if st is not None and not detail:
        st.windows = {k: v for k, v in st.windows.items() if k in ("1h", "6h", "1d", "period")}
    return SLOOut(
        service=slo.service,
        slo=slo.name,
        description=slo.description,
        objective=slo.objective,
        objective_percent=round(slo.objective * 100, 6),
        period=period,
        budgeting=budgeting,
        sli=sli_out(slo),
        labels={**(service.labels if service else {}), **slo.labels},
        status=st,
        collection_error=error,
    )


MAX_SAMPLE_VALUE = 1e12
"""Largest |value| of one pushed sample: 10^12 events in one push is beyond any real producer, and a
bound keeps sums far from float overflow (1e308 pushed twice used to make /metrics export NaN)."""
MAX_LABEL_VALUE = 1024


def _names_as_property_names(schema: dict[str, Any]) -> None:
    """pydantic writes a key pattern as patternProperties, which lets any other key through; say what is
    validated: every key matches (propertyNames) and every value is a label value (additionalProperties)."""
    ((pattern, values),) = schema.pop("patternProperties").items()
    schema["propertyNames"] = {**schema.get("propertyNames", {}), "pattern": pattern}
    schema["additionalProperties"] = values


class IngestSample(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str = Field(
        min_length=1, max_length=MAX_NAME, pattern=METRIC_NAME, description="metric name the SLI selectors match"
    )
    labels: dict[
        Annotated[str, StringConstraints(max_length=MAX_NAME, pattern=LABEL_NAME)],
        Annotated[str, StringConstraints(max_length=MAX_LABEL_VALUE, pattern=NO_NUL)],
    ] = Field(
        default_factory=dict,
        max_length=64,
        description="Prometheus label names; at most 64 labels",
        json_schema_extra=_names_as_property_names,
    )
    value: float = Field(
        ge=-MAX_SAMPLE_VALUE,
        le=MAX_SAMPLE_VALUE,
        allow_inf_nan=False,
        description="an event count increment (ratio/latency SLIs: >= 0, good <= total) or a gauge value",
    )
    timestamp: Instant | None = Field(
        None,
        description="defaults to the time of receipt; at most the raw retention (8d) old and 5m ahead",
    )


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Name = Field(description="name of a source of type push")
    idempotency_key: Name | None = Field(
        None, description="retries with the same key are stored once (also: Idempotency-Key header)"
    )
    samples: list[IngestSample] = Field(min_length=1, max_length=100_000)


class IngestResponse(BaseModel):
    stored: bool
    duplicate: bool
    observations: int
    errors: dict[str, str]
