"""Secrets the process holds (tokens, routing keys, signing secrets, passwords), kept out of text it writes.

Whoever reads a secret registers it; `redact` replaces every registered value, and the password of any
`scheme://user:password@host` URL, with ***. The service's log handler, delivery errors and config problems
go through it, so a secret echoed by a library, an exception or a receiver's answer is not written out.
"""

from __future__ import annotations

import re
import threading

MASK = "***"
MIN_SECRET_LENGTH = 6
"""Shorter values are not masked by value (masking "a" would garble every line); none is that short in practice."""

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)(?P<password>[^@/?#\s]+)@")


def register_secret(value: str | None) -> None:
    """Mask `value` from now on (a no-op for None and very short values)."""
    global _secrets
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _secrets = _secrets | {value}


def redact(text: str) -> str:
    """`text` with every registered secret and every URL password replaced by ***."""
    for secret in sorted(_secrets, key=len, reverse=True):  # longest first: one secret may contain another
        if secret in text:
            text = text.replace(secret, MASK)
    return _URL_PASSWORD.sub(lambda m: m["head"] + MASK + "@", text) if "://" in text else text
