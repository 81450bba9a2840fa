"""The checkpoint codec: what encode writes decodes to the same matrix, and zlib checkpoints still read."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from slo_service.core.counts_matrix import CountsMatrix
from slo_service.pipeline.checkpoint import FORMAT, INTERVAL_GAP_SECONDS, _intervals, decode, encode

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _matrix() -> CountsMatrix:
    matrix = CountsMatrix(["a", "b", "c"], NOW)
    rng = np.random.default_rng(7)
    seconds = np.array([int((NOW - timedelta(minutes=m)).timestamp()) for m in range(0, 3000, 7)], dtype=np.int64)
    for row in range(3):
        total = rng.poisson(100, len(seconds)).astype(float)
        good = total - rng.poisson(1, len(seconds))
        rows = np.full(len(seconds), row, dtype=np.int64)
        matrix.add_many(rows, seconds, np.maximum(good, 0), total, np.ones(len(seconds)))
    return matrix


def _equal(a: CountsMatrix, b: CountsMatrix) -> bool:
    (meta_a, arrays_a), (meta_b, arrays_b) = a.state(), b.state()
    return meta_a == meta_b and all(np.array_equal(x, y) for x, y in zip(arrays_a, arrays_b, strict=True))


def test_encode_writes_zstd_and_decodes_to_the_same_matrix() -> None:
    matrix = _matrix()
    doc, parts = encode(*matrix.state())
    assert doc["compression"] == "zstd"
    assert sum(len(p) for p in parts) == sum(doc["sizes"])
    assert _equal(CountsMatrix.from_state(*decode(doc, parts)), matrix)


def test_a_checkpoint_written_with_zlib_is_still_read() -> None:
    matrix = _matrix()
    meta, arrays = matrix.state()
    blobs = [zlib.compress(np.ascontiguousarray(a).tobytes(), 1) for a in arrays]
    doc, _ = encode(meta, [a.copy() for a in arrays])
    doc.update(compression="zlib", sizes=[len(b) for b in blobs], format=FORMAT)
    assert _equal(CountsMatrix.from_state(*decode(doc, [b"".join(blobs)])), matrix)


def test_an_unknown_compression_is_refused() -> None:
    doc, parts = encode(*_matrix().state())
    doc["compression"] = "brotli"
    with pytest.raises(ValueError, match="brotli"):
        decode(doc, parts)


def test_a_restore_adopts_the_decoded_arrays_instead_of_copying_them() -> None:
    matrix = _matrix()
    meta, arrays = decode(*encode(*matrix.state()))
    restored = CountsMatrix.from_state(meta, arrays, adopt=True)
    assert _equal(restored, matrix)
    assert any(a is arrays[0] for a in restored._arrays())  # the 380 MiB of 10,000 SLOs are not copied
    copied = CountsMatrix.from_state(*decode(*encode(*matrix.state())))
    assert not any(a is arrays[0] for a in copied._arrays())


def _intervals_by_loop(lo: np.ndarray, hi: np.ndarray, rows: np.ndarray) -> list[tuple[int, int, set[int]]]:
    """The merge as a plain loop (the implementation before numpy), for comparison."""
    out: list[tuple[int, int, set[int]]] = []
    for k in np.argsort(lo, kind="stable").tolist():
        a, b, r = int(lo[k]), int(hi[k]), int(rows[k])
        if out and a <= out[-1][1] + INTERVAL_GAP_SECONDS:
            out[-1] = (out[-1][0], max(out[-1][1], b), out[-1][2] | {r})
        else:
            out.append((a, b, {r}))
    return out


@pytest.mark.parametrize("seed", range(20))
def test_cell_spans_merge_into_the_same_intervals_as_the_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    lo = rng.integers(0, 40 * INTERVAL_GAP_SECONDS, n, dtype=np.int64)
    hi = lo + rng.choice([60, 300, 3600], n)
    rows = rng.integers(0, 50, n, dtype=np.int64)
    assert _intervals(lo, hi, rows) == _intervals_by_loop(lo, hi, rows)


def test_no_cell_spans_no_intervals() -> None:
    empty = np.array([], dtype=np.int64)
    assert _intervals(empty, empty, empty) == []
