"""Time arithmetic shared by the folds: ISO instants, status timelines, durations."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from core.events import parse_utc

__all__ = [
    "seconds_between",
    "insert_sorted",
    "is_blocked_status",
    "build_timeline",
    "iso_week",
    "week_bounds",
    "working_days",
    "working_ordinals",
    "is_working_day",
    "next_working_day",
    "category_at",
    "moments_in",
    "moments_within",
    "spans_of",
    "Span",
]

_BLOCKED = re.compile(r"block|wait|hold|paus|imped", re.I)


def seconds_between(start: str, end: str) -> float:
    return max(0.0, (parse_utc(end) - parse_utc(start)).total_seconds())


def insert_sorted(
    items: list[dict[str, Any]], item: dict[str, Any], key: str = "at"
) -> list[dict[str, Any]]:
    """A new list with ``item`` placed by ``key``; ties keep arrival order.

    An item equal to one already there (same moment, same content) is the same fact told
    twice, so the list comes back unchanged: that makes every fold built on this
    idempotent by content, whether or not the event's id is still remembered
    (``projections.tracking`` keeps only a recent window of ids).
    """
    keys = [i[key] for i in items]
    low = bisect.bisect_left(keys, item[key])
    position = bisect.bisect_right(keys, item[key], lo=low)
    if item in items[low:position]:
        return items
    return [*items[:position], item, *items[position:]]


def is_blocked_status(status: str | None) -> bool:
    return bool(status and _BLOCKED.search(status))


def build_timeline(
    created_at: str | None,
    initial: tuple[str | None, str | None],
    transitions: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Stages with entry and exit times, from the first known status to the last transition."""
    segments: list[dict[str, Any]] = []
    status, category = initial
    if transitions:
        # Before the first transition the item was in its ``from`` status; a transition
        # without one (the source had no history: "as of its last update") leaves that
        # stretch unknown rather than guessing it was already in today's status.
        status = transitions[0].get("from_status")
        category = transitions[0].get("from_category") if status else None
    start = created_at or (transitions[0]["at"] if transitions else None)
    if start is None:
        return segments
    for move in transitions:
        if move["at"] < start:
            start = move["at"]
        segments.append(
            {"status": status, "category": category, "entered_at": start, "exited_at": move["at"]}
        )
        status, category, start = move["to_status"], move["to_category"], move["at"]
    segments.append(
        {"status": status, "category": category, "entered_at": start, "exited_at": None}
    )
    return [s for s in segments if s["status"] is not None or s["exited_at"] is None]


def category_at(segments: list[dict[str, Any]], moment: str) -> str | None:
    """The status category a timeline was in at ``moment`` (ISO text); None before it."""
    for segment in segments:
        ends = segment["exited_at"]
        if segment["entered_at"] <= moment and (ends is None or ends > moment):
            return segment["category"]
    return None


Span = tuple[str, str | None]  # a stage's entry and exit (None: not left yet), ISO text


def spans_of(segments: list[dict[str, Any]], category: str) -> tuple[Span, ...] | None:
    """The stages in ``category`` as (entered, exited), in order, when the timeline is
    contiguous (each stage ends where the next begins, as folded timelines do); None when
    stages overlap (hand-built ones), where only ``category_at``, moment by moment, is
    right. The view base keeps the in-progress ones, so the check runs once per state."""
    ordered = all(
        a["exited_at"] is not None and a["entered_at"] <= a["exited_at"] <= b["entered_at"]
        for a, b in itertools.pairwise(segments)
    )
    if not ordered:
        return None
    return tuple((s["entered_at"], s["exited_at"]) for s in segments if s["category"] == category)


def moments_within(spans: tuple[Span, ...], moments: list[str]) -> list[int]:
    """Indices of ``moments`` (ascending ISO text) inside one of contiguous ``spans``,
    found per span by bisection: the spans' cost, not the moments'."""
    found: list[int] = []
    for entered, exited in spans:
        low = bisect.bisect_left(moments, entered)
        high = len(moments) if exited is None else bisect.bisect_left(moments, exited, lo=low)
        found.extend(range(low, high))
    return found


def moments_in(segments: list[dict[str, Any]], moments: list[str], category: str) -> list[int]:
    """Indices of ``moments`` (ascending ISO text) at which the timeline was in
    ``category``: what ``category_at`` says of each, found per segment by bisection.

    A team's weekly rows ask this of every item at every week's end; asking per segment
    costs the segments, not items times weeks. Timelines are contiguous, so a moment lies
    in at most one segment; one that is not (hand-built) is asked moment by moment."""
    spans = spans_of(segments, category)
    if spans is None:
        return [n for n, moment in enumerate(moments) if category_at(segments, moment) == category]
    return moments_within(spans, moments)


def iso_week(moment: datetime | date) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """Monday 00:00 UTC of ``YYYY-Www`` and the Monday after."""
    year, number = week.split("-W")
    monday = datetime.fromisocalendar(int(year), int(number), 1).replace(tzinfo=UTC)
    return monday, monday + timedelta(days=7)


def is_working_day(ordinal: int) -> bool:
    """Monday to Friday, by day number: day 1 (0001-01-01) was a Monday."""
    return (ordinal + 6) % 7 < 5


def working_ordinals(first: int, last: int) -> Iterator[int]:
    """The working days' numbers (``date.toordinal``) in [first, last]."""
    return (n for n in range(first, last + 1) if (n + 6) % 7 < 5)


def next_working_day(ordinal: int) -> int:
    """The number of the first working day after day ``ordinal``."""
    ordinal += 1
    while not is_working_day(ordinal):
        ordinal += 1
    return ordinal


def working_days(start: datetime, end: datetime) -> list[date]:
    """Monday-to-Friday dates touched by [start, end): none when the interval is empty.

    Day numbers, not a datetime per day: the drift inputs expand every in-progress stretch
    of every work item into days, hundreds of thousands at 1,000 engineers."""
    if end <= start:
        return []
    last = end.astimezone(UTC)
    # The last day touched is the one ``end`` falls in, unless it falls on its midnight.
    final = last.date().toordinal() - (last.time() == time.min)
    # Day 1 (0001-01-01) was a Monday: (ordinal + 6) % 7 is the weekday.
    return [date.fromordinal(n) for n in working_ordinals(start.date().toordinal(), final)]
