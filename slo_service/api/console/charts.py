"""Inline-SVG charts of the console, as data the templates draw: polyline points and threshold lines.

The server draws every chart (no chart library in the browser): a page is readable without JavaScript and
loads nothing from elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Line:
    """A horizontal line across a chart at `value`, e.g. an alert threshold."""

    label: str
    value: float
    y: float
    css: str


@dataclass(frozen=True)
class Chart:
    """A line chart scaled into a width x height box; `points` is the SVG polyline attribute."""

    width: int
    height: int
    points: str
    low: float
    high: float
    lines: tuple[Line, ...] = field(default_factory=tuple)
    start: datetime | None = None
    end: datetime | None = None

    @property
    def empty(self) -> bool:
        return not self.points


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def line_chart(
    series: Sequence[tuple[datetime, float | None]],
    width: int = 600,
    height: int = 160,
    start: datetime | None = None,
    end: datetime | None = None,
    lines: Sequence[tuple[str, float, str]] = (),
    floor: float | None = None,
    ceiling: float | None = None,
) -> Chart:
    """Scale (time, value) points into the box; None values (no data) are left out. The value range covers
    the points, the threshold `lines` and `floor`/`ceiling` when given, so thresholds are always visible."""
    known = [(t, v) for t, v in series if v is not None]
    values = [v for _, v in known] + [v for _, v, _ in lines]
    if floor is not None:
        values.append(floor)
    if ceiling is not None:
        values.append(ceiling)
    if not known:
        return Chart(width, height, "", 0.0, 0.0, start=start, end=end)
    low, high = min(values), max(values)
    if high - low < 1e-12:
        high = low + 1.0
    t0 = (start or known[0][0]).timestamp()
    t1 = (end or known[-1][0]).timestamp()
    span = max(t1 - t0, 1e-9)

    def y(v: float) -> float:
        return height - (v - low) / (high - low) * height

    points = " ".join(f"{_fmt((t.timestamp() - t0) / span * width)},{_fmt(y(v))}" for t, v in known)
    drawn = tuple(Line(label, value, round(y(value), 1), css) for label, value, css in lines)
    return Chart(width, height, points, low, high, drawn, start or known[0][0], end or known[-1][0])


def sparkline(values: Sequence[float | None], width: int = 96, height: int = 24) -> str:
    """Polyline points of evenly spaced values (None skipped), for a table cell; "" without data."""
    n = len(values)
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if not known:
        return ""
    low = min(0.0, *(v for _, v in known))
    high = max(1.0, *(v for _, v in known))
    step = width / max(n - 1, 1)
    return " ".join(f"{_fmt(i * step)},{_fmt(height - (v - low) / (high - low) * height)}" for i, v in known)
