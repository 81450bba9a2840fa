"""Counter baselines in SQL: one row per (source, SLO) with the last counted scrape, one per series value."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite

from slo_service.adapters.sql.models import CounterBaselineRow, CounterValueRow
from slo_service.core.ports import BaselineKey, BaselineUpdate, CounterBaselines, merge_baselines
from slo_service.core.samples import SeriesId

_sets: Table = CounterBaselineRow.__table__  # type: ignore[assignment]
_values: Table = CounterValueRow.__table__  # type: ignore[assignment]

Insert = Callable[[Table], postgresql.Insert | sqlite.Insert]


def series_text(series: SeriesId) -> str:
    """A series as stored: `[name, [[label, value], ...]]` with the labels sorted."""
    return json.dumps([series[0], series[1]], separators=(",", ":"), ensure_ascii=False)


def series_key(text: str) -> str:
    """The digest that keys a stored series (32 hex digits)."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _series_of(text: str) -> SeriesId:
    name, labels = json.loads(text)
    return (name, tuple((k, v) for k, v in labels))


def save_baselines(conn: Connection, insert: Insert, updates: Sequence[BaselineUpdate]) -> None:
    """Apply baseline updates in `conn`'s transaction: replaced SLOs lose their values, the last counted scrape
    and new or changed values are upserted, forgotten series deleted."""
    merged = merge_baselines(updates)
    replaced = [{"s": u.source, "o": u.slo} for u in merged if u.replace]
    if replaced:
        v = _values.c
        conn.execute(delete(_values).where(v.source == bindparam("s"), v.slo == bindparam("o")), replaced)
    heads = [
        {"source": u.source, "slo": u.slo, "target": u.target, "sli": u.sli, "at": u.at}
        for u in merged
        if u.at is not None
    ]
    if heads:
        ins = insert(_sets)
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[_sets.c.source, _sets.c.slo],
                set_={c: ins.excluded[c] for c in ("target", "sli", "at")},
            ),
            heads,
        )
    rows: list[dict[str, Any]] = []
    gone: list[dict[str, Any]] = []
    for u in merged:
        for (role, series), value in u.values.items():
            text = series_text(series)
            key = series_key(text)
            rows.append(
                {"source": u.source, "slo": u.slo, "role": role, "series_key": key, "series": text, "value": value}
            )
        gone.extend(_key_params(u.source, u.slo, k) for k in u.removed)
    if rows:
        rows.sort(key=lambda r: (r["source"], r["slo"], r["role"], r["series_key"]))  # lock order: no deadlocks
        ins = insert(_values)
        pk = [_values.c.source, _values.c.slo, _values.c.role, _values.c.series_key]
        conn.execute(ins.on_conflict_do_update(index_elements=pk, set_={"value": ins.excluded.value}), rows)
    if gone:
        v = _values.c
        match = (v.source == bindparam("s"), v.slo == bindparam("o"), v.role == bindparam("r"))
        conn.execute(delete(_values).where(*match, v.series_key == bindparam("k")), gone)


def _key_params(source: str, slo: str, key: BaselineKey) -> dict[str, str]:
    role, series = key
    return {"s": source, "o": slo, "r": role, "k": series_key(series_text(series))}


def load_baselines(conn: Connection, source: str) -> list[CounterBaselines]:
    """Every SLO's stored baselines of scrape source `source`."""
    heads = conn.execute(select(_sets).where(_sets.c.source == source)).all()
    values: dict[str, dict[BaselineKey, float]] = {}
    query = select(_values.c.slo, _values.c.role, _values.c.series, _values.c.value).where(_values.c.source == source)
    for slo, role, text, value in conn.execute(query):
        values.setdefault(slo, {})[(role, _series_of(text))] = value
    return [CounterBaselines(h.source, h.slo, h.target, h.sli, h.at, values.get(h.slo, {})) for h in heads]


def delete_orphan_values(conn: Connection) -> int:
    """Delete values whose SLO has no baseline row any more (retention removed it); how many."""
    head = exists().where(and_(_sets.c.source == _values.c.source, _sets.c.slo == _values.c.slo))
    return int(conn.execute(delete(_values).where(~head)).rowcount)
