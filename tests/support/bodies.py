"""Scrape bodies that hurt: a gzip bomb built by streaming, so neither the repository nor the test holds it
inflated."""

from __future__ import annotations

import functools
import zlib

BOMB_INFLATED_BYTES = 1 << 30


@functools.cache
def gzip_bomb() -> bytes:
    """One gzip member inflating to 1 GiB of zero bytes (~1 MB compressed, built once in ~3 s)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    parts = [packer.compress(zeros) for _ in range(BOMB_INFLATED_BYTES // len(zeros))]
    parts.append(packer.flush())
    return b"".join(parts)
