"""PagerDuty-style on-call schedules: layers of rotations (later layers win where they have someone),
optional restrictions on a layer, and overrides that beat every layer.

Rotations whose length is a whole number of days hand off at the same local wall-clock time in the
layer's time zone, across DST changes; other lengths (e.g. 12h) advance in absolute time. A hand-off
at a local time that does not exist (skipped by a DST jump) happens at the matching post-jump instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY = timedelta(days=1)
ALL_WEEKDAYS = (0, 1, 2, 3, 4, 5, 6)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _aware(value: datetime, what: str) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{what} must be an aware datetime")


@dataclass(frozen=True)
class Restriction:
    """A window starting at `start` local time on each of `weekdays` (0 = Monday) and ending at `end`
    (exclusive) the same day, or the next day when end <= start (end == start: 24 hours)."""

    start: time
    end: time
    weekdays: tuple[int, ...] = ALL_WEEKDAYS

    def __post_init__(self) -> None:
        if not self.weekdays or any(not 0 <= d <= 6 for d in self.weekdays):
            raise ValueError("restriction weekdays must be a non-empty subset of 0 (Monday) .. 6 (Sunday)")

    def contains(self, local: datetime) -> bool:
        t = local.time().replace(tzinfo=None, fold=0)
        day = local.weekday()
        if self.end > self.start:
            return day in self.weekdays and self.start <= t < self.end
        return (day in self.weekdays and t >= self.start) or ((day - 1) % 7 in self.weekdays and t < self.end)

    def windows(self, on: date, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
        """The window that starts on local date `on`, as aware datetimes, if it does."""
        if on.weekday() not in self.weekdays:
            return None
        begin = datetime.combine(on, self.start, tzinfo=tz)
        end_day = on if self.end > self.start else on + DAY
        return begin, datetime.combine(end_day, self.end, tzinfo=tz)


@dataclass(frozen=True)
class Rotation:
    members: tuple[str, ...]
    length: timedelta
    start: datetime  # the first hand-off; nobody is on call in this rotation before it
    restrictions: tuple[Restriction, ...] = ()

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("a rotation needs at least one member")
        if self.length <= timedelta(0):
            raise ValueError("rotation length must be positive")
        _aware(self.start, "rotation start")

    @property
    def daily(self) -> bool:
        return self.length % DAY == timedelta(0)

    def handoff(self, k: int, tz: ZoneInfo) -> datetime:
        """The k-th hand-off (k = 0 is `start`)."""
        if self.daily:
            local = self.start.astimezone(tz).replace(tzinfo=None)
            return (local + k * self.length).replace(tzinfo=tz)
        return self.start + k * self.length

    def turn(self, at: datetime, tz: ZoneInfo) -> int:
        """Index of the hand-off period containing `at` (negative before the rotation starts)."""
        k = (at - self.start) // self.length
        while self.handoff(k + 1, tz) <= at:
            k += 1
        while self.handoff(k, tz) > at:
            k -= 1
        return k


@dataclass(frozen=True)
class Layer:
    name: str
    rotation: Rotation
    timezone: str = "UTC"
    end: datetime | None = None  # the layer stops covering at `end` (exclusive)

    def __post_init__(self) -> None:
        _zone(self.timezone)
        if self.end is not None:
            _aware(self.end, "layer end")

    def on_call(self, at: datetime) -> str | None:
        tz = _zone(self.timezone)
        rot = self.rotation
        if at < rot.start or (self.end is not None and at >= self.end):
            return None
        if rot.restrictions:
            local = at.astimezone(tz)
            if not any(r.contains(local) for r in rot.restrictions):
                return None
        return rot.members[rot.turn(at, tz) % len(rot.members)]

    def changes(self, start: datetime, end: datetime) -> list[datetime]:
        """Every instant in (start, end) where this layer's answer may change."""
        tz = _zone(self.timezone)
        rot = self.rotation
        points = [rot.start]
        if self.end is not None:
            points.append(self.end)
        k = max(rot.turn(start, tz), 0)
        while (h := rot.handoff(k, tz)) < end:
            points.append(h)
            k += 1
        if rot.restrictions:
            day = start.astimezone(tz).date() - DAY
            last = end.astimezone(tz).date() + DAY
            while day <= last:
                for r in rot.restrictions:
                    w = r.windows(day, tz)
                    if w:
                        points.extend(w)
                day += DAY
        return [p for p in points if start < p < end]


@dataclass(frozen=True)
class Override:
    start: datetime
    end: datetime
    member: str

    def __post_init__(self) -> None:
        _aware(self.start, "override start")
        _aware(self.end, "override end")
        if self.end <= self.start:
            raise ValueError("override end must be after its start")


@dataclass(frozen=True)
class Schedule:
    name: str
    timezone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        _zone(self.timezone)


@dataclass(frozen=True)
class Shift:
    member: str
    start: datetime
    end: datetime
    source: str  # the layer's name, or "override"


def _who(schedule: Schedule, at: datetime) -> tuple[str, str] | None:
    for ov in reversed(schedule.overrides):  # the latest-listed override wins
        if ov.start <= at < ov.end:
            return ov.member, "override"
    for layer in reversed(schedule.layers):
        member = layer.on_call(at)
        if member is not None:
            return member, layer.name
    return None


def on_call(schedule: Schedule, at: datetime) -> str | None:
    """Who is on call at `at`: an override if any, else the highest layer that has someone."""
    _aware(at, "at")
    found = _who(schedule, at)
    return found[0] if found else None


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The final timeline over [start, end): consecutive periods of one member from one source, gaps left out."""
    _aware(start, "start")
    _aware(end, "end")
    if end <= start:
        return []
    points = {start, end}
    for layer in schedule.layers:
        points.update(layer.changes(start, end))
    for ov in schedule.overrides:
        points.update(p for p in (ov.start, ov.end) if start < p < end)
    ordered = sorted(points)
    out: list[Shift] = []
    for a, b in pairwise(ordered):
        found = _who(schedule, a)
        if found is None:
            continue
        member, source = found
        if out and out[-1].end == a and out[-1].member == member and out[-1].source == source:
            out[-1] = Shift(member, out[-1].start, b, source)
        else:
            out.append(Shift(member, a, b, source))
    return out
