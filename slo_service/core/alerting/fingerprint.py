"""Stable alert identity: a short hash of an alert's label set.

``fingerprint(labels)`` is the first 16 hex digits of the SHA-256 of the label pairs sorted by name,
each encoded as ``name 0xFF value 0xFF`` in UTF-8. 0xFF never occurs in UTF-8 text, so no two
different label sets share an encoding. Unlike ``hash()`` it is the same in every process and every
Python version, so it can be stored (SQL, notifications) and compared after a restart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

_SEP = b"\xff"


def fingerprint(labels: Mapping[str, str]) -> str:
    """16 hex digits identifying this label set (order of the mapping does not matter)."""
    h = hashlib.sha256()
    for name in sorted(labels):
        h.update(name.encode("utf-8"))
        h.update(_SEP)
        h.update(labels[name].encode("utf-8"))
        h.update(_SEP)
    return h.hexdigest()[:16]
