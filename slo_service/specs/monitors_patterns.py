"""Checks of a monitor's cron expression and data file paths or globs, as messages (None when fine)."""

from __future__ import annotations

import os
import re

from slo_service.specs.monitors_schema import DATA_SUFFIXES

__all__ = ["GLOB_CHARS", "cron_problem", "glob_problem", "suffix_problem"]

GLOB_CHARS = frozenset("*?[")
_DIGITS = re.compile(r"^[0-9]+$")


def glob_problem(pattern: str) -> str | None:
    """Why `pattern` is not a usable path or glob of data files; None when it is (matching nothing is fine)."""
    if not pattern.strip():
        return "must not be empty"
    depth = 0
    for char in pattern:
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth = 0
    if depth:
        return f"unclosed '[' in pattern {pattern!r}; a character class is written [abc]"
    parts = pattern.replace(os.sep, "/").split("/")
    if any("**" in part and part != "**" for part in parts):
        return f"'**' must be a whole path component, as in data/**/*.parquet; got {pattern!r}"
    if parts[-1] in ("", "**"):
        return f"{pattern!r} names a directory; name the files, e.g. {pattern.rstrip('/')}/*.parquet"
    return suffix_problem(parts[-1])


def suffix_problem(name: str) -> str | None:
    if "." not in name.lstrip("."):
        return None
    suffix = name[name.rindex(".") :].lower()
    if GLOB_CHARS & set(suffix) or suffix in DATA_SUFFIXES:
        return None
    return f"unsupported data format {suffix!r}: use Parquet (.parquet, .pq) or CSV (.csv, .tsv, .csv.gz) files"


_MONTHS = {
    name: i + 1
    for i, name in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
}
_WEEKDAYS = {name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
)


def cron_problem(expr: str) -> str | None:
    """Why `expr` is not a 5-field cron expression (minute hour day-of-month month day-of-week); None if it is."""
    fields = expr.split()
    if len(fields) != 5:
        return (
            f"cron {expr!r} must have 5 fields (minute hour day-of-month month day-of-week), "
            f'e.g. "0 * * * *" for every hour; got {len(fields)}'
        )
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            problem = _cron_part(part, low, high, names)
            if problem is not None:
                return f"cron {expr!r}: {name} {text!r}: {problem}"
    return None


def _cron_part(part: str, low: int, high: int, names: dict[str, int]) -> str | None:
    if not part:
        return "empty item in a list"
    base, slash, step = part.partition("/")
    if slash and not (_DIGITS.match(step) and int(step) >= 1):
        return f"step {step!r} must be a whole number of at least 1"
    if base == "*":
        return None
    first_text, dash, last_text = base.partition("-")
    allowed = f"{low}-{high}" + (f" or {_names_hint(names)}" if names else "")
    first = _cron_value(first_text, low, high, names)
    if first is None:
        return f"{first_text!r} is not a value in {allowed}"
    if dash:
        last = _cron_value(last_text, low, high, names)
        if last is None:
            return f"{last_text!r} is not a value in {allowed}"
        if first > last:
            return f"range {base!r} runs backwards"
    return None


def _names_hint(names: dict[str, int]) -> str:
    keys = list(names)
    return f"{keys[0]}..{keys[-1]}"


def _cron_value(text: str, low: int, high: int, names: dict[str, int]) -> int | None:
    if text.lower() in names:
        return names[text.lower()]
    if _DIGITS.match(text) and low <= int(text) <= high:
        return int(text)
    return None
