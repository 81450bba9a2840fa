"""parse_size / format_size: Prometheus' 1024-based byte sizes, read back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo_service.core.sizes import format_size, parse_size

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("0MB", 0),
        ("100B", 100),
        ("1KB", 1024),
        ("1KiB", 1024),
        ("10MB", 10 * MIB),  # 1024-based like Prometheus' body_size_limit: 10MB is 10 MiB
        ("10MiB", 10 * MIB),
        ("1.5MB", 3 * MIB // 2),
        (".5KB", 512),
        ("2GB", 2 * 1024 * MIB),
        (" 3TB ", 3 * 1024**4),
        ("1EiB", 1024**6),
    ],
)
def test_sizes_are_read_as_prometheus_reads_them(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("", "invalid size ''"),
        ("10", "invalid size '10'"),  # a unit is required, as in Prometheus
        ("MB", "invalid size 'MB'"),
        ("-1MB", "invalid size '-1MB'"),
        ("10 MB", "invalid size '10 MB'"),
        ("10mb", "unknown unit 'mb'"),
        ("10kB", "unknown unit 'kB'"),  # the SI spelling; Prometheus refuses it too
        ("10Mb", "unknown unit 'Mb'"),
        ("0.5B", "less than one byte"),
    ],
)
def test_bad_sizes_name_the_text(text: str, phrase: str) -> None:
    with pytest.raises(ValueError, match=phrase):
        parse_size(text)


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0"), (100, "100B"), (1536, "1536B"), (3072, "3KiB"), (3 * MIB // 2, "1536KiB")]
)
def test_format_is_exact_and_shortest(size: int, text: str) -> None:
    assert format_size(size) == text


@given(st.integers(0, 2**62))
def test_format_then_parse_gives_back_the_size(size: int) -> None:
    assert parse_size(format_size(size)) == size
