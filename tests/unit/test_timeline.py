"""Time arithmetic the allocation and the weekly rows share: working days and timelines."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from core.events import iso
from projections.timeline import (
    build_timeline,
    category_at,
    moments_in,
    moments_within,
    spans_of,
    working_days,
)


def _days_one_by_one(start: datetime, end: datetime) -> list[date]:
    """The plain definition: every weekday whose midnight (UTC) falls before ``end``."""
    days, day = [], start.date()
    while datetime.combine(day, datetime.min.time(), UTC) < end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def test_working_days_are_the_weekdays_an_interval_touches() -> None:
    """Counted by day numbers, the days match walking the calendar one day at a time, for
    intervals ending mid-day, on a midnight and across weekends."""
    rng = random.Random(3)
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(5000):
        start = origin + timedelta(hours=rng.randrange(0, 24 * 90))
        end = start + timedelta(hours=rng.randrange(1, 24 * 30), minutes=rng.choice([0, 30]))
        assert working_days(start, end) == _days_one_by_one(start, end)
    friday = datetime(2026, 1, 9, 10, tzinfo=UTC)
    assert working_days(friday, friday + timedelta(days=3)) == [date(2026, 1, 9), date(2026, 1, 12)]
    assert working_days(friday, datetime(2026, 1, 10, tzinfo=UTC)) == [date(2026, 1, 9)]


def test_an_empty_interval_touches_no_day() -> None:
    """An interval that ends where or before it starts (a stage that ended before the
    window opened, on the same day) touches no working day at all."""
    monday = datetime(2026, 1, 5, 12, tzinfo=UTC)
    assert working_days(monday, monday) == []
    assert working_days(monday, monday - timedelta(hours=3)) == []


def _timeline(rng: random.Random) -> list[dict[str, Any]]:
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=rng.randrange(0, 200))
    moves, status = [], ("To Do", "todo")
    for _ in range(rng.randrange(0, 6)):
        moment += timedelta(hours=rng.randrange(0, 120))
        new = rng.choice([("In Progress", "in_progress"), ("Review", "in_progress"),
                          ("Done", "done"), ("To Do", "todo")])  # fmt: skip
        moves.append({"at": iso(moment), "from_status": status[0], "from_category": status[1],
                      "to_status": new[0], "to_category": new[1]})  # fmt: skip
        status = new
    created = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=rng.randrange(0, 300))
    return build_timeline(iso(created), ("To Do", "todo"), moves)


def test_moments_in_a_category_agree_with_asking_moment_by_moment() -> None:
    """Found per segment by bisection, the moments a timeline spent in a category are the
    ones ``category_at`` names one moment at a time, for folded timelines (also from their
    spans alone, as view bases keep them) and for a hand-built one whose segments overlap
    (the first segment that covers a moment wins; it has no spans to read)."""
    rng = random.Random(5)
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    moments = [iso(origin + timedelta(days=n, hours=23)) for n in range(40)]
    for _ in range(2000):
        segments = _timeline(rng)
        for category in ("in_progress", "done", "todo"):
            expected = [n for n, m in enumerate(moments) if category_at(segments, m) == category]
            assert moments_in(segments, moments, category) == expected
            spans = spans_of(segments, category)
            assert spans is not None and moments_within(spans, moments) == expected
    overlapping = [
        {"category": "todo", "entered_at": moments[0], "exited_at": moments[10]},
        {"category": "in_progress", "entered_at": moments[5], "exited_at": None},
    ]
    assert moments_in(overlapping, moments, "in_progress") == list(range(10, 40))
    assert moments_in(overlapping, moments, "todo") == list(range(0, 10))
    assert spans_of(overlapping, "in_progress") is None
