"""Counter increases across a gap in scraping (a restart of the service, a target outage), spread over time.

A scrape normally counts the increase since the previous scrape in the minute of the scrape. When the
previous counted scrape of an SLO lies further back, so that at least one whole minute between the two had
no scrape at all, the increase happened across the whole gap: it is attributed to every minute the gap
covers, in proportion to the time of the gap inside each minute (so every whole missing minute gets an
equal share, and the minutes of the two scrapes the share of their seconds inside the gap). Windows and
budgets then see the events in the minutes they most likely happened, not all at once after the gap.

Event counts stay whole numbers when the increases are whole, and the shares always add up to exactly the
increase: no event is lost or invented by the split, and no minute has more good events than events.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from slo_service.core.ports import BASE_RESOLUTION_SECONDS
from slo_service.core.windows import align

_MICROSECOND = timedelta(microseconds=1)


def gap_slots(since: datetime, at: datetime, resolution: int = BASE_RESOLUTION_SECONDS) -> list[tuple[datetime, int]]:
    """The slots of `resolution` seconds that (since, at] overlaps, each with the microseconds of the overlap,
    when at least one whole slot lies between the slots of `since` and `at`; [] for an ordinary interval."""
    first, last = align(since, resolution), align(at, resolution)
    step = timedelta(seconds=resolution)
    if last - first < 2 * step:
        return []
    slots = [(first, (first + step - since) // _MICROSECOND)]
    start = first + step
    while start < last:
        slots.append((start, step // _MICROSECOND))
        start += step
    slots.append((last, (at - last) // _MICROSECOND))
    return slots


def spread(
    good: float, total: float, since: datetime, at: datetime, resolution: int = BASE_RESOLUTION_SECONDS
) -> list[tuple[datetime, float, float]]:
    """(slot start, good, total) shares of an increase counted over (since, at], or [] when the interval is
    no gap (see gap_slots). Needs 0 <= good <= total. The shares add up to `good` and `total` exactly when both
    are whole numbers (then every share is whole), and to within rounding otherwise; good <= total in every
    share."""
    slots = gap_slots(since, at, resolution)
    if not slots:
        return []
    if float(good).is_integer() and float(total).is_integer():
        totals = _split_whole(int(total), [w for _, w in slots])
        goods = _split_whole(int(good), totals)  # good in proportion to each slot's events: never above them
        return [(start, float(g), float(t)) for (start, _), g, t in zip(slots, goods, totals, strict=True)]
    span = sum(w for _, w in slots)
    out = [(start, good * w / span, total * w / span) for start, w in slots]
    # the last share takes what rounding left, so the shares add up to the increase
    rest_total = max(total - sum(t for _, _, t in out[:-1]), 0.0)
    rest_good = min(max(good - sum(g for _, g, _ in out[:-1]), 0.0), rest_total)
    out[-1] = (out[-1][0], rest_good, rest_total)
    return out


def _split_whole(amount: int, weights: list[int]) -> list[int]:
    """`amount` split in proportion to `weights` into whole numbers that add up to it.

    Cumulative rounding (share i = floor(amount * W_i / W) - floor(amount * W_(i-1) / W), W_i the running sum
    of weights): each share is within 1 of its exact value, and splitting a smaller amount by the shares of a
    larger one never gives a slot more than the larger amount's share there.
    """
    span = sum(weights)
    if span == 0:
        return [0] * (len(weights) - 1) + [amount]
    out: list[int] = []
    running = done = 0
    for w in weights:
        running += w
        upto = amount * running // span
        out.append(upto - done)
        done = upto
    return out
