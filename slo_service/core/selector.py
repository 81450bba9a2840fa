"""Prometheus series selectors (`name{label="v",code=~"5.."}`): parsing and matching, no PromQL beyond that."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

_OPS = ("=~", "!~", "!=", "=")
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True)
class Matcher:
    """One label matcher; regexes are fully anchored as in Prometheus."""

    label: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = _compiled(self.value).fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.label}{self.op}"{escaped}"'


@dataclass(frozen=True)
class Selector:
    """A metric name (optional when matchers are given) plus label matchers."""

    metric: str | None
    matchers: tuple[Matcher, ...] = ()

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        if self.metric is not None and name != self.metric:
            return False
        return all(m.matches(labels) for m in self.matchers)

    def with_metric(self, metric: str) -> Selector:
        return Selector(metric, self.matchers)

    def __str__(self) -> str:
        inner = ",".join(str(m) for m in self.matchers)
        base = self.metric or ""
        return f"{base}{{{inner}}}" if inner or not base else base


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    # Routing 10,000 alerts matches the same few regexes hundreds of thousands of times.
    return re.compile(pattern)


@lru_cache(maxsize=1 << 16)
def parse_selector(text: str) -> Selector:
    """Parse a series selector; raise ValueError naming the position of the first problem.

    Cached (a Selector is immutable): the config reader and the extractor parse the same selectors, each
    of 10,000 SLOs' twice, ~0.5 s of a start-up."""
    s = text.strip()
    pos = 0
    metric: str | None = None
    m = _NAME.match(s, pos)
    if m:
        metric = m.group(0)
        pos = m.end()
    matchers: list[Matcher] = []
    if pos < len(s):
        if s[pos] != "{":
            raise ValueError(f"unexpected {s[pos]!r} at position {pos} in selector {text!r}")
        pos += 1
        while True:
            pos = _skip_ws(s, pos)
            if pos < len(s) and s[pos] == "}":
                pos += 1
                break
            lm = _LABEL.match(s, pos)
            if not lm:
                raise ValueError(f"expected a label name at position {pos} in selector {text!r}")
            pos = _skip_ws(s, lm.end())
            op = next((o for o in _OPS if s.startswith(o, pos)), None)
            if op is None:
                raise ValueError(f"expected one of = != =~ !~ at position {pos} in selector {text!r}")
            pos = _skip_ws(s, pos + len(op))
            value, pos = _read_string(s, pos, text)
            if op in ("=~", "!~"):
                try:
                    re.compile(value)
                except re.error as exc:
                    raise ValueError(f"invalid regex {value!r} in selector {text!r}: {exc}") from exc
            matchers.append(Matcher(lm.group(0), op, value))
            pos = _skip_ws(s, pos)
            if pos < len(s) and s[pos] == ",":
                pos += 1
                continue
            if pos < len(s) and s[pos] == "}":
                pos += 1
                break
            raise ValueError(f"expected ',' or '}}' at position {pos} in selector {text!r}")
        if _skip_ws(s, pos) != len(s):
            raise ValueError(f"unexpected text after '}}' in selector {text!r}")
    if metric is None and not matchers:
        raise ValueError(f"selector {text!r} names no metric and no label matcher")
    return Selector(metric, tuple(matchers))


def _skip_ws(s: str, pos: int) -> int:
    while pos < len(s) and s[pos] in " \t\n":
        pos += 1
    return pos


def _read_string(s: str, pos: int, text: str) -> tuple[str, int]:
    if pos >= len(s) or s[pos] not in "\"'`":
        raise ValueError(f"expected a quoted value at position {pos} in selector {text!r}")
    quote = s[pos]
    pos += 1
    out: list[str] = []
    while pos < len(s):
        ch = s[pos]
        if ch == "\\" and pos + 1 < len(s):
            nxt = s[pos + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            pos += 2
            continue
        if ch == quote:
            return "".join(out), pos + 1
        out.append(ch)
        pos += 1
    raise ValueError(f"unterminated string in selector {text!r}")
