"""A vectorised, tiered ring buffer of per-row (good, total, present) counts: the evaluation engine's memory.

Every row (an SLO's events, or its timeslice verdicts) shares one time grid made of tiers, finest
first. Tier ``i`` has ``slots`` slots of ``resolution`` seconds each, kept as a ring: absolute slot
index ``a`` (``a * resolution`` seconds since the epoch) lives in column ``a % slots``. One shared
``int64`` array per tier records which absolute index each column currently holds (``-1`` = empty),
so staleness checks and window weights are computed once for all rows.

Live ranges (``cur`` = the 1-minute slot containing ``now``)::

    tier 0:  slots [cur - n0 + 1, cur]                     (the current slot is writable)
    tier i:  top_i = (lo_{i-1} - 1) // r_i, slots [top_i - n_i + 1, top_i], lo_i = bottom_i * r_i

so the tiers tile time without gaps: tier ``i`` receives writes for ``[lo_i, lo_{i-1})``.

Rules

* Each datum lives in exactly ONE tier: a write goes to the finest tier whose range covers its time;
  writes in the future (after the current slot) or older than the coarsest tier are refused.
* ``advance(now)`` moves the grid; slots that leave a tier's range are ADDED into the coarser tier's
  slot that contains them (resolutions must divide each other), so nothing is lost while a coarser
  tier still covers it. Only data older than the coarsest tier is dropped.
* ``present`` counts base-resolution (1-minute) slots that received any data: a minute written four
  times counts once; roll-ups add presents. A write that lands directly in a coarse slot (history
  loaded from storage) adds its ``present`` argument (1 by default, i.e. "one minute"), capped at the
  number of minutes in the slot.
* Window rule: data in a slot is taken as spread evenly over the time the slot covers, and a window
  ``[start, end)`` weighs every slot by the share of that time inside it, so a window weighs exactly
  its length. Slot ``[a, a + r)`` covers ``[a, c)`` with ``c = a + r``, except a coarse tier's top
  slot (``c`` = where the finer tier begins) and the current minute (``c = end`` when the window ends
  inside it: its data so far, so the open minute counts as its elapsed fraction).
  Weight = ``|[a, c) ∩ [start, end)| / (c - a)``: 1 for slots wholly inside, pro rata for a slot
  containing ``start`` (or a past ``end``), 0 outside.
  Exact (no interpolation) when both bounds are slot boundaries, e.g. the engine's alert windows,
  which end on a whole minute; otherwise the only approximation is the unevenness of data inside the
  one or two partial slots. Data older than ``oldest`` is gone (``effective_start``).
  tests/unit/test_counts_matrix.py checks this against a brute-force reference that weighs each
  event by its slot.
* Window sums are ``counts @ weights``: a BLAS matrix product with a (slots, windows) weight matrix,
  never a fancy-indexed copy of the counts.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from slo_service.core.windows import ceil_seconds, floor_seconds, from_seconds

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Tier:
    """`slots` ring slots of `resolution` seconds each."""

    resolution: int
    slots: int

    @property
    def span_seconds(self) -> int:
        return self.resolution * self.slots


DEFAULT_TIERS = (Tier(60, 361), Tier(300, 864), Tier(3600, 768))
"""1m for the current minute + 6h, 5m for 3d, 1h for 32d: ~35 days, more than a calendar month.

The 1-minute tier holds 361 slots (not 360) so that the 6h window is exact at 1-minute resolution
whether or not the evaluation time falls on a whole minute.
"""


class CountsMatrix:
    """Per-row (good, total, present) counts on a shared tiered time grid."""

    def __init__(self, keys: Sequence[str], now: datetime, tiers: Sequence[Tier] = DEFAULT_TIERS) -> None:
        tiers = tuple(tiers)
        if not tiers:
            raise ValueError("at least one tier is needed")
        for t in tiers:
            if t.resolution <= 0 or t.slots <= 0:
                raise ValueError(f"invalid tier {t!r}")
        for fine, coarse in itertools.pairwise(tiers):
            if coarse.resolution % fine.resolution or coarse.resolution <= fine.resolution:
                raise ValueError("each tier's resolution must be a larger multiple of the previous one")
        self.keys: tuple[str, ...] = tuple(keys)
        self._index = {k: i for i, k in enumerate(self.keys)}
        if len(self._index) != len(self.keys):
            raise ValueError("duplicate keys")
        self.tiers: tuple[Tier, ...] = tiers
        n = len(self.keys)
        self._good: list[F64] = [np.zeros((n, t.slots), dtype=np.float64) for t in tiers]
        self._total: list[F64] = [np.zeros((n, t.slots), dtype=np.float64) for t in tiers]
        self._present: list[F32] = [np.zeros((n, t.slots), dtype=np.float32) for t in tiers]
        self._slot_abs: list[I64] = [np.full(t.slots, -1, dtype=np.int64) for t in tiers]
        self._cur = floor_seconds(now) // tiers[0].resolution
        self._bottom: list[int] = []
        self._top: list[int] = []
        self._ranges()

    # ----------------------------------------------------------------- grid geometry

    def _ranges(self) -> None:
        bottom: list[int] = []
        top: list[int] = []
        upper = self._cur + 1  # exclusive, in units of the previous tier's resolution
        prev_res = self.tiers[0].resolution
        for i, t in enumerate(self.tiers):
            hi = self._cur if i == 0 else (upper * prev_res - 1) // t.resolution
            lo = hi - t.slots + 1
            top.append(hi)
            bottom.append(lo)
            upper, prev_res = lo, t.resolution
        self._bottom, self._top = bottom, top

    def _lo(self, i: int) -> int:
        """First second tier i receives writes for."""
        return self._bottom[i] * self.tiers[i].resolution

    def _hi(self, i: int) -> int:
        """Second after the last one tier i receives writes for."""
        if i == 0:
            return (self._cur + 1) * self.tiers[0].resolution
        return self._lo(i - 1)

    def tier_ranges(self) -> list[tuple[datetime, datetime]]:
        """[start, end) of the times each tier receives writes for, finest first."""
        return [(from_seconds(self._lo(i)), from_seconds(self._hi(i))) for i in range(len(self.tiers))]

    @property
    def oldest(self) -> datetime:
        """Start of the oldest time still covered (older data is refused or dropped)."""
        return from_seconds(self._lo(len(self.tiers) - 1))

    @property
    def newest(self) -> datetime:
        """End (exclusive) of the current slot: later data is refused as being in the future."""
        return from_seconds(self._hi(0))

    def resolution_at(self, t: datetime) -> int | None:
        """Resolution (seconds) of the tier that holds data at time `t`, or None if not covered."""
        s = floor_seconds(t)
        for i, tier in enumerate(self.tiers):
            if self._lo(i) <= s < self._hi(i):
                return tier.resolution
        return None

    def effective_start(self, t: datetime) -> datetime:
        """The earliest time whose data a window starting at `t` counts: `t` itself (rounded up to a
        whole second; the slot containing it counts pro rata), never earlier than `oldest`."""
        return from_seconds(max(ceil_seconds(t), self._lo(len(self.tiers) - 1)))

    def row(self, key: str) -> int | None:
        return self._index.get(key)

    def memory_bytes(self) -> int:
        arrays: list[np.ndarray] = [*self._good, *self._total, *self._present, *self._slot_abs]
        return int(sum(a.nbytes for a in arrays))

    # ----------------------------------------------------------------- writes

    def _minutes_cap(self, i: int) -> float:
        return float(self.tiers[i].resolution // self.tiers[0].resolution)

    def add(self, key: str, at: datetime, good: float, total: float, present: float = 1.0) -> bool:
        """Add counts for `key` at time `at`. False (nothing stored) if `at` is in the future beyond
        the current slot or older than the coarsest tier covers. Unknown key -> KeyError.

        `present`: how many base (1-minute) slots this datum stands for when it lands directly in a
        coarse slot, e.g. 60 for an hourly roll-up loaded from storage. In the 1-minute tier any
        write marks its minute present once.
        """
        r = self._index[key]
        s = floor_seconds(at)
        for i, tier in enumerate(self.tiers):
            if self._lo(i) <= s < self._hi(i):
                a = s // tier.resolution
                col = a % tier.slots
                self._slot_abs[i][col] = a
                self._good[i][r, col] += good
                self._total[i][r, col] += total
                p = self._present[i]
                p[r, col] = min(float(p[r, col]) + present, self._minutes_cap(i))
                return True
        return False

    def add_many(
        self,
        rows: np.ndarray,
        at_seconds: np.ndarray,
        good: np.ndarray,
        total: np.ndarray,
        present: np.ndarray | None = None,
    ) -> int:
        """Vectorised `add`: row indices, epoch seconds, good, total (and optional present) arrays of
        equal length. Returns how many items were accepted (the others are outside the grid)."""
        rws = np.asarray(rows, dtype=np.int64).ravel()
        secs_in = np.asarray(at_seconds)
        if secs_in.dtype.kind == "f":
            secs_in = np.floor(secs_in)
        secs = secs_in.astype(np.int64, copy=False).ravel()
        g = np.asarray(good, dtype=np.float64).ravel()
        tt = np.asarray(total, dtype=np.float64).ravel()
        p = np.ones(len(rws), dtype=np.float64) if present is None else np.asarray(present, np.float64).ravel()
        if not len(rws) == len(secs) == len(g) == len(tt) == len(p):
            raise ValueError("add_many arrays must have the same length")
        if len(rws) and (rws.min() < 0 or rws.max() >= len(self.keys)):
            raise IndexError("row index out of range")
        accepted = 0
        for i, tier in enumerate(self.tiers):
            m = (secs >= self._lo(i)) & (secs < self._hi(i))
            count = int(np.count_nonzero(m))
            if not count:
                continue
            accepted += count
            a = secs[m] // tier.resolution
            cols = a % tier.slots
            self._slot_abs[i][cols] = a
            self._deposit(i, rws[m], cols, g[m], tt[m], p[m])
        return accepted

    def _deposit(self, i: int, rows: I64, cols: I64, g: F64, t: F64, p: F64) -> None:
        """Add items to tier i cells (rows, cols), duplicates allowed; presents capped per slot."""
        n_slots = self.tiers[i].slots
        flat = rows * n_slots + cols
        pf = self._present[i].reshape(-1)
        np.add.at(self._good[i].reshape(-1), flat, g)
        np.add.at(self._total[i].reshape(-1), flat, t)
        np.add.at(pf, flat, p.astype(np.float32))
        pf[flat] = np.minimum(pf[flat], np.float32(self._minutes_cap(i)))

    # ----------------------------------------------------------------- time

    def advance(self, now: datetime) -> None:
        """Move the grid so the current slot contains `now` (never backwards).

        Slots leaving a tier are added into the coarser tier whose new range covers them; data older
        than the coarsest tier is dropped. Processed coarsest-first, so a target slot is always empty
        or already holds the same absolute index.
        """
        new_cur = floor_seconds(now) // self.tiers[0].resolution
        if new_cur <= self._cur:
            return
        self._cur = new_cur
        self._ranges()
        last = len(self.tiers) - 1
        for i in range(last, -1, -1):
            res = self.tiers[i].resolution
            abs_i = self._slot_abs[i]
            cols = np.nonzero((abs_i >= 0) & (abs_i < self._bottom[i]))[0]
            if not len(cols):
                continue
            times = abs_i[cols] * res
            for j in range(i + 1, last + 1):
                m = (times >= self._lo(j)) & (times < self._hi(j))
                if m.any():
                    self._roll_into(i, cols[m], j, times[m])
            self._good[i][:, cols] = 0.0
            self._total[i][:, cols] = 0.0
            self._present[i][:, cols] = 0.0
            abs_i[cols] = -1

    def _roll_into(self, i: int, cols: I64, j: int, times: I64) -> None:
        """Add tier-i columns `cols` (slot start `times`) into tier j, via a 0/1 (cols x targets) product."""
        tier_j = self.tiers[j]
        target_abs = times // tier_j.resolution
        target_cols = target_abs % tier_j.slots
        uniq, inverse = np.unique(target_cols, return_inverse=True)
        self._slot_abs[j][target_cols] = target_abs
        a64 = np.zeros((len(cols), len(uniq)), dtype=np.float64)
        a64[np.arange(len(cols)), inverse.ravel()] = 1.0
        self._good[j][:, uniq] += self._good[i][:, cols] @ a64
        self._total[j][:, uniq] += self._total[i][:, cols] @ a64
        pj = self._present[j]
        pj[:, uniq] = np.minimum(
            pj[:, uniq] + self._present[i][:, cols] @ a64.astype(np.float32), np.float32(self._minutes_cap(j))
        )

    # ----------------------------------------------------------------- reads

    def window_sums_many(
        self, windows: Sequence[tuple[datetime, datetime]], rows: np.ndarray | None = None
    ) -> tuple[F64, F64, F64]:
        """(good, total, present), each of shape (rows, len(windows)), for data in each [start, end).

        Slots are weighed by the share of their time inside the window (see the module docstring), so
        sums and presents may be fractional. One matrix product per tier and array for ALL windows.
        """
        n_rows = len(self.keys) if rows is None else len(rows)
        n_win = len(windows)
        out_g = np.zeros((n_rows, n_win), dtype=np.float64)
        out_t = np.zeros((n_rows, n_win), dtype=np.float64)
        out_p = np.zeros((n_rows, n_win), dtype=np.float64)
        if not n_win or not n_rows:
            return out_g, out_t, out_p
        starts = np.array([ceil_seconds(s) for s, _ in windows], dtype=np.int64)
        ends = np.array([ceil_seconds(e) for _, e in windows], dtype=np.int64)
        sel = None if rows is None else np.asarray(rows, dtype=np.int64)
        for i in range(len(self.tiers)):
            weights = self._weights(i, starts, ends)
            if weights is None:
                continue
            p_weights = weights.astype(np.float32)
            if sel is None:
                out_g += self._good[i] @ weights
                out_t += self._total[i] @ weights
                out_p += self._present[i] @ p_weights
            else:
                out_g += self._good[i][sel] @ weights
                out_t += self._total[i][sel] @ weights
                out_p += self._present[i][sel] @ p_weights
        return out_g, out_t, out_p

    def _weights(self, i: int, starts: I64, ends: I64) -> F64 | None:
        """(slots, windows) weights of tier i's slots in the windows [starts, ends), None if all zero."""
        abs_i = self._slot_abs[i]
        a = (abs_i * self.tiers[i].resolution)[:, None]
        # the time a slot's data covers: a coarse tier's top slot only up to where the finer tier
        # begins; the current minute only up to the window's end (its data so far)
        covers = np.minimum(a + self.tiers[i].resolution, self._hi(i))
        if i == 0:
            covers = np.where((abs_i == self._cur)[:, None], np.minimum(covers, ends), covers)
        overlap = np.minimum(covers, ends) - np.maximum(a, starts)
        live = (abs_i >= 0)[:, None] & (overlap > 0)
        if not live.any():
            return None
        return np.where(live, overlap / np.maximum(covers - a, 1), 0.0)

    def window_sums(self, start: datetime, end: datetime, rows: np.ndarray | None = None) -> tuple[F64, F64, F64]:
        """(good, total, present) per row for data in [start, end)."""
        g, t, p = self.window_sums_many([(start, end)], rows)
        return g[:, 0], t[:, 0], p[:, 0]

    def binned_sums(
        self, start: datetime, width: int, bins: int, rows: np.ndarray | None = None
    ) -> tuple[F64, F64, F64]:
        """(good, total, present) of shape (rows, bins) for the consecutive windows
        [start + k*width, start + (k+1)*width), k < bins, each slot counted whole in the bin its start
        falls in, computed without a (slots x bins) mask, so thousands of bins (e.g. every 5-minute
        timeslice of a month) stay cheap. Equal to `window_sums_many` where the bins' bounds are slot
        boundaries (timeslices on the 1-minute tier); elsewhere this rule judges a slot by its start.
        """
        if width <= 0 or bins < 0:
            raise ValueError("width must be positive and bins non-negative")
        n_rows = len(self.keys) if rows is None else len(rows)
        out_g = np.zeros((n_rows, bins), dtype=np.float64)
        out_t = np.zeros((n_rows, bins), dtype=np.float64)
        out_p = np.zeros((n_rows, bins), dtype=np.float64)
        if not bins or not n_rows:
            return out_g, out_t, out_p
        s0 = ceil_seconds(start)
        sel = slice(None) if rows is None else np.asarray(rows, dtype=np.int64)
        for i, tier in enumerate(self.tiers):
            abs_i = self._slot_abs[i]
            slot_start = abs_i * tier.resolution
            cols = np.nonzero((abs_i >= 0) & (slot_start >= s0) & (slot_start < s0 + width * bins))[0]
            if not len(cols):
                continue
            where = (slot_start[cols] - s0) // width
            # add along axis 1 through the transposed views (bins on axis 0)
            np.add.at(out_g.T, where, self._good[i][sel][:, cols].T)
            np.add.at(out_t.T, where, self._total[i][sel][:, cols].T)
            np.add.at(out_p.T, where, self._present[i][sel][:, cols].astype(np.float64).T)
        return out_g, out_t, out_p

    # ----------------------------------------------------------------- reshaping

    def with_keys(self, keys: Sequence[str]) -> CountsMatrix:
        """A new matrix for a new key set (config reload), copying the rows of keys that remain."""
        new = CountsMatrix(keys, from_seconds(self._cur * self.tiers[0].resolution), self.tiers)
        pairs = [(new._index[k], self._index[k]) for k in new.keys if k in self._index]
        for i in range(len(self.tiers)):
            new._slot_abs[i][:] = self._slot_abs[i]
            if pairs:
                dst = np.array([d for d, _ in pairs], dtype=np.int64)
                src = np.array([s for _, s in pairs], dtype=np.int64)
                new._good[i][dst] = self._good[i][src]
                new._total[i][dst] = self._total[i][src]
                new._present[i][dst] = self._present[i][src]
        return new

    # ----------------------------------------------------------------- checkpoints

    def state(self) -> tuple[MatrixMeta, list[np.ndarray]]:
        """Copies of everything the matrix holds, for a checkpoint: (meta, arrays). Cheap next to an
        evaluation (a memory copy); the caller compresses them without holding its lock."""
        meta = MatrixMeta(
            keys=self.keys,
            tiers=self.tiers,
            cur=self._cur,
            shapes=tuple(a.shape for a in self._arrays()),
            dtypes=tuple(a.dtype.str for a in self._arrays()),
        )
        return meta, [a.copy() for a in self._arrays()]

    @classmethod
    def from_state(cls, meta: MatrixMeta, arrays: Sequence[np.ndarray], adopt: bool = False) -> CountsMatrix:
        """The matrix `state()` copied (its grid where it was then; `advance` it to now).

        With `adopt`, writable C-contiguous arrays become the matrix's own instead of being copied (the
        caller hands them over): a 10,000-SLO matrix is 380 MiB, decompressed straight into its arrays."""
        new = cls(meta.keys, from_seconds(meta.cur * meta.tiers[0].resolution), meta.tiers)
        mine = new._arrays()
        if len(arrays) != len(mine):
            raise ValueError(f"checkpoint has {len(arrays)} arrays, the matrix {len(mine)}")
        for dst, src in zip(mine, arrays, strict=True):
            if dst.shape != src.shape or dst.dtype != src.dtype:
                raise ValueError(f"checkpoint array {src.shape}/{src.dtype} does not fit {dst.shape}/{dst.dtype}")
        if adopt and all(a.flags.writeable and a.flags.c_contiguous for a in arrays):
            n = len(new.tiers)
            new._good, new._total = list(arrays[:n]), list(arrays[n : 2 * n])
            new._present, new._slot_abs = list(arrays[2 * n : 3 * n]), list(arrays[3 * n :])
            return new
        for dst, src in zip(mine, arrays, strict=True):
            dst[...] = src
        return new

    def _arrays(self) -> list[np.ndarray]:
        return [*self._good, *self._total, *self._present, *self._slot_abs]

    def cells_overlapping(self, rows: I64, starts: I64, ends: I64) -> tuple[I64, I64, I64]:
        """(tier, row, absolute slot) of every cell on the grid whose time overlaps [starts[k], ends[k]) of
        rows[k], unique.

        A checkpoint restore recomputes exactly these cells from the store for the slices written after it:
        a slice lands in the cell of its start, but a coarse store slice (an hourly roll-up) replaces data
        that may sit in several cells (12 five-minute ones), so every overlapped cell is redone.
        """
        out_t: list[I64] = []
        out_r: list[I64] = []
        out_a: list[I64] = []
        for i, tier in enumerate(self.tiers):
            lo = np.maximum(starts, self._lo(i))
            hi = np.minimum(ends, self._hi(i))
            m = lo < hi
            if not m.any():
                continue
            first = lo[m] // tier.resolution
            counts = (hi[m] - 1) // tier.resolution - first + 1
            offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            slots = np.repeat(first, counts) + offsets
            rep_rows = np.repeat(rows[m], counts)
            pairs = np.unique(np.stack([rep_rows, slots], axis=1), axis=0)
            out_t.append(np.full(len(pairs), i, dtype=np.int64))
            out_r.append(pairs[:, 0])
            out_a.append(pairs[:, 1])
        if not out_t:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        return np.concatenate(out_t), np.concatenate(out_r), np.concatenate(out_a)

    def cell_spans(self, tiers: I64, slots: I64) -> tuple[I64, I64]:
        """[start, end) seconds of the data each (tier, absolute slot) cell receives (a coarse tier's top
        cell ends where the finer tier begins)."""
        starts = np.zeros(len(tiers), dtype=np.int64)
        ends = np.zeros(len(tiers), dtype=np.int64)
        for i, tier in enumerate(self.tiers):
            m = tiers == i
            if m.any():
                a = slots[m] * tier.resolution
                starts[m] = np.maximum(a, self._lo(i))
                ends[m] = np.minimum(a + tier.resolution, self._hi(i))
        return starts, ends

    def cells_of(self, secs: I64) -> tuple[I64, I64]:
        """(tier, absolute slot) a write at each epoch second lands in, as `add_many` places it; tier -1
        outside the grid."""
        tiers = np.full(len(secs), -1, dtype=np.int64)
        slots = np.zeros(len(secs), dtype=np.int64)
        for i, tier in enumerate(self.tiers):
            m = (secs >= self._lo(i)) & (secs < self._hi(i))
            tiers[m] = i
            slots[m] = secs[m] // tier.resolution
        return tiers, slots

    def clear_cells(self, tiers: I64, rows: I64, slots: I64) -> None:
        """Zero the given (tier, row, absolute slot) cells, to be filled again with `add_many`."""
        for i, tier in enumerate(self.tiers):
            m = tiers == i
            if m.any():
                cols = slots[m] % tier.slots
                self._good[i][rows[m], cols] = 0.0
                self._total[i][rows[m], cols] = 0.0
                self._present[i][rows[m], cols] = 0.0


@dataclass(frozen=True)
class MatrixMeta:
    """What a checkpoint needs besides the arrays: keys, tiers, the grid position and the arrays' layout."""

    keys: tuple[str, ...]
    tiers: tuple[Tier, ...]
    cur: int
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[str, ...]
