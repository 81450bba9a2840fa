"""Counter baselines in SQL: one row per (source, SLO), its series' values as one JSON list."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from slo_service.adapters.sql.models import CounterBaselineRow
from slo_service.core.ports import BaselineKey, CounterBaselines, latest_baselines

_baselines: Table = CounterBaselineRow.__table__  # type: ignore[assignment]


def save_baselines(
    conn: Connection, insert: postgresql.Insert | sqlite.Insert, baselines: Sequence[CounterBaselines]
) -> None:
    """Store each SLO's latest baselines in `conn`'s transaction, replacing what was stored for it.
    `insert` is the dialect's insert of counter_baselines."""
    rows = [
        {
            "source": b.source,
            "slo": b.slo,
            "target": b.target,
            "sli": b.sli,
            "at": b.at,
            "counters": [[role, name, labels, value] for (role, (name, labels)), value in b.values.items()],
        }
        for b in sorted(latest_baselines(baselines), key=lambda b: (b.source, b.slo))  # lock order
    ]
    if not rows:
        return
    ex = insert.excluded
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=[_baselines.c.source, _baselines.c.slo],
            set_={c: ex[c] for c in ("target", "sli", "at", "counters")},
        ),
        rows,
    )


def load_baselines(conn: Connection, source: str) -> list[CounterBaselines]:
    """Every SLO's stored baselines of scrape source `source`."""
    out: list[CounterBaselines] = []
    for row in conn.execute(select(_baselines).where(_baselines.c.source == source)):
        values: dict[BaselineKey, float] = {
            (role, (name, tuple((k, v) for k, v in labels))): float(value) for role, name, labels, value in row.counters
        }
        out.append(CounterBaselines(row.source, row.slo, row.target, row.sli, row.at, values))
    return out
