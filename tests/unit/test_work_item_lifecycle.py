"""Work item lifecycle fold, with numbers worked out by hand."""

from __future__ import annotations

import copy
import random
from datetime import UTC, date, datetime, timedelta

from core.codec import decode_dict
from core.events import Event
from core.log_reader import Position
from projections.timeline import working_ordinals
from projections.tracking import apply_tracked
from projections.work_items import (
    cycle_time_at,
    fold_work_item,
    held_runs,
    view_at,
    view_base,
    work_item_view,
)
from tests.helpers import event_dict

HOUR = 3600.0


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def move(change: str, when: datetime, old: str, new: str, old_cat: str, new_cat: str) -> Event:
    return decode_dict(
        event_dict(
            "work_item.status_changed",
            "W-1",
            change,
            at=when,
            payload={
                "from_status": old,
                "to_status": new,
                "from_category": old_cat,
                "to_category": new_cat,
            },
        )
    )


def history() -> list[Event]:
    created = decode_dict(
        event_dict(
            "work_item.created",
            "W-1",
            "c",
            at=at(5, 9),
            payload={
                "title": "Export",
                "status": "To Do",
                "status_category": "todo",
                "team": "core",
                "item_type": "Story",
                "estimate": 3,
                "created_at": at(5, 9).isoformat(),
            },
        )
    )
    return [
        created,
        move("1", at(5, 10), "To Do", "In Progress", "todo", "in_progress"),
        move("2", at(6, 10), "In Progress", "To Do", "in_progress", "todo"),  # paused
        move("3", at(7, 10), "To Do", "In Progress", "todo", "in_progress"),
        move("4", at(7, 16), "In Progress", "Blocked", "in_progress", "in_progress"),
        move("5", at(8, 10), "Blocked", "In Progress", "in_progress", "in_progress"),
        move("6", at(8, 12), "In Progress", "Done", "in_progress", "done"),
    ]


def fold(events: list[Event]) -> dict:
    state = None
    for event in events:
        state = fold_work_item(state, event)
    assert state is not None
    return state


def test_cycle_time_counts_only_in_progress_time_across_a_pause() -> None:
    """24h + 6h + 18h blocked + 2h in progress = 50h cycle; lead 75h; efficiency 32/74."""
    view = work_item_view(fold(history()), now=at(20, 0))
    assert view["stage"] == "done" and view["status"] == "Done"
    assert view["cycle_time_seconds"] == 50 * HOUR
    assert view["blocked_seconds"] == 18 * HOUR
    assert view["lead_time_seconds"] == 75 * HOUR
    assert view["flow_efficiency"] == round(32 / 74, 4)
    assert view["started_at"] == "2026-01-05T10:00:00.000000Z"
    assert view["done_at"] == "2026-01-08T12:00:00.000000Z"
    assert [s["status"] for s in view["timeline"]] == [
        "To Do",
        "In Progress",
        "To Do",
        "In Progress",
        "Blocked",
        "In Progress",
        "Done",
    ]
    assert view["timeline"][1]["seconds"] == 24 * HOUR
    assert view["reopen_count"] == 0


def test_a_reopened_item_counts_the_reopen_and_finishes_later() -> None:
    """Done -> In Progress -> Done adds one reopen, 2h of cycle time and moves done_at."""
    events = [
        *history(),
        move("7", at(9, 9), "Done", "In Progress", "done", "in_progress"),
        move("8", at(9, 11), "In Progress", "Done", "in_progress", "done"),
    ]
    view = work_item_view(fold(events), now=at(20, 0))
    assert view["reopen_count"] == 1
    assert view["cycle_time_seconds"] == 52 * HOUR
    assert view["done_at"] == "2026-01-09T11:00:00.000000Z"


def test_out_of_order_arrival_builds_the_same_timeline() -> None:
    """Events folded in any order give the same view: timelines follow occurred_at."""
    expected = work_item_view(fold(history()), now=at(20, 0))
    for seed in range(5):
        shuffled = history()
        random.Random(seed).shuffle(shuffled)
        assert work_item_view(fold(shuffled), now=at(20, 0)) == expected


def test_duplicate_delivery_changes_nothing() -> None:
    """Every event delivered twice (at-least-once) yields the same state as once."""
    once = None
    twice = None
    for offset, event in enumerate(history()):
        once, _ = apply_tracked(fold_work_item, once, event, Position("t", 0, offset))
        twice, _ = apply_tracked(fold_work_item, twice, event, Position("t", 0, offset))
        twice, changed = apply_tracked(fold_work_item, twice, event, Position("t", 0, 100 + offset))
        assert not changed
    assert once == twice


def test_an_item_still_in_progress_grows_its_cycle_time_with_now() -> None:
    """Cycle time of unfinished work is measured up to the query's now."""
    view = work_item_view(fold(history()[:2]), now=at(5, 13))
    assert view["stage"] == "in_progress" and view["done_at"] is None
    assert view["cycle_time_seconds"] == 3 * HOUR
    assert view["lead_time_seconds"] is None


def test_one_base_finishes_views_for_any_moment_without_changing() -> None:
    """The read model computes a base once per state and finishes it per query: each
    moment's view equals a full recomputation, and finishing never alters the base."""
    for events in (history()[:2], history()[:5], history()):
        state = fold(events)
        base = view_base(state)
        before = copy.deepcopy(base)
        for now in (at(5, 12), at(7, 20), at(20, 0)):
            assert view_at(base, now) == work_item_view(state, now)
        assert base == before
    blocked_now = view_at(view_base(fold(history()[:5])), at(8, 4))
    assert blocked_now["stage"] == "blocked"
    assert blocked_now["blocked_seconds"] == 12 * HOUR  # 16:00 to 04:00, still blocked
    assert blocked_now["cycle_time_seconds"] == (24 + 6 + 12) * HOUR


def test_cycle_time_read_from_the_base_is_the_views() -> None:
    """Percentiles read each item's cycle time straight from its base: the same number its
    view shows, unstarted (None), in progress (growing with now), paused and done."""
    for events in (history()[:1], history()[:2], history()[:3], history()[:5], history()):
        base = view_base(fold(events))
        for now in (at(5, 12), at(7, 20), at(20, 0)):
            assert cycle_time_at(base, now) == view_at(base, now)["cycle_time_seconds"]
    assert cycle_time_at(view_base(fold(history()[:1])), at(20, 0)) is None


def test_an_item_remembers_who_held_each_day_of_the_stages_it_left() -> None:
    """The base lists, per in-progress stage already left, the working days it touched
    with the assignee at each day's end; the stage still open is left to the clock."""
    events = [
        *history()[:2],
        decode_dict(event_dict("work_item.assigned", "W-1", "a1", at=at(5, 12),
                               payload={"to_assignee": "ana"})),
        decode_dict(event_dict("work_item.assigned", "W-1", "a2", at=at(6, 8),
                               payload={"from_assignee": "ana", "to_assignee": "bo"})),
        *history()[2:4],
    ]  # fmt: skip
    base = view_base(fold(events))
    (left,) = base.worked  # Mon 10:00 to Tue 10:00; back in progress since Wed 10:00
    assert (left.entered, left.exited) == (at(5, 10), at(6, 10))
    days = [
        (person, date.fromordinal(a).day, date.fromordinal(b).day) for person, a, b in left.held
    ]
    assert days == [("ana", 5, 5), ("bo", 6, 6)]
    assert base.open_in_progress and base.open_since == at(7, 10)


def test_the_days_a_stage_was_held_are_kept_as_runs_of_working_days() -> None:
    """Consecutive working days one person held the item make one run, across a weekend;
    a change of person, or a working day held by nobody, starts another. Expanded, the
    runs give back every (person, day) pair they were made of."""
    monday = date(2026, 1, 5)
    days = [
        monday + timedelta(days=n) for n in range(14) if (monday + timedelta(days=n)).weekday() < 5
    ]
    pairs = (
        *(("ana", d) for d in days[:7]),  # Mon Jan 5 .. Tue Jan 13, over the weekend
        ("bo", days[7]),
        *(("bo", d) for d in days[9:]),  # Jan 15 held by nobody: a new run
    )
    runs = held_runs(pairs)
    assert [(p, date.fromordinal(a).day, date.fromordinal(b).day) for p, a, b in runs] == [
        ("ana", 5, 13),
        ("bo", 14, 14),
        ("bo", 16, 16),
    ]
    assert [(p, date.fromordinal(n)) for p, a, b in runs for n in working_ordinals(a, b)] == list(
        pairs
    )


def test_a_late_snapshot_does_not_overwrite_newer_fields() -> None:
    """An older snapshot arriving after a newer one leaves the newer fields in place."""
    new = decode_dict(
        event_dict("work_item.updated", "W-1", "u2", at=at(7, 9), payload={"title": "New"})
    )
    old = decode_dict(
        event_dict("work_item.updated", "W-1", "u1", at=at(6, 9), payload={"title": "Old"})
    )
    assert work_item_view(fold([new, old]), now=at(8, 0))["title"] == "New"


def test_deleted_items_show_as_deleted() -> None:
    """A deletion event moves the item to the deleted stage."""
    gone = decode_dict(event_dict("work_item.deleted", "W-1", "d", at=at(9, 9)))
    view = work_item_view(fold([*history(), gone]), now=at(10, 0))
    assert view["stage"] == "deleted" and view["deleted_at"] == "2026-01-09T09:00:00.000000Z"
