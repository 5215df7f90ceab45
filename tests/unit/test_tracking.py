"""Idempotent folding: a projection remembers what it applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.codec import decode_dict, encode
from core.log_reader import Position
from hub.fold_loop import checkpoint_key, is_checkpoint, resume_offsets
from hub.projector import RawRecord, fold_batch
from projections.tracking import apply_tracked
from projections.work_items import fold_work_item
from tests.helpers import event_dict


def _event(change: str, day: int) -> object:
    return decode_dict(
        event_dict("work_item.updated", "X-1", change, at=datetime(2026, 1, day, tzinfo=UTC))
    )


def test_the_same_event_id_twice_changes_nothing() -> None:
    """A re-delivered event (same id, another offset) is skipped."""
    first = _event("a", 1)
    state, changed = apply_tracked(fold_work_item, None, first, Position("t", 0, 5))
    again, changed_again = apply_tracked(fold_work_item, state, first, Position("t", 0, 9))
    assert changed and not changed_again
    assert again == state and len(again["_tracking"]["event_ids"]) == 1


def test_positions_at_or_before_the_bookmark_are_replays() -> None:
    """After a restart the log replays old offsets; those are skipped even with unseen ids."""
    state, _ = apply_tracked(fold_work_item, None, _event("a", 1), Position("t", 0, 5))
    replay, changed = apply_tracked(fold_work_item, state, _event("b", 2), Position("t", 0, 5))
    assert not changed and replay is state
    newer, changed = apply_tracked(fold_work_item, state, _event("b", 2), Position("t", 0, 6))
    assert changed and len(newer["_tracking"]["event_ids"]) == 2


def test_out_of_order_events_keep_the_latest_activity() -> None:
    """Last activity follows the source's time, not arrival order."""
    state = fold_work_item(None, _event("late", 9))
    state = fold_work_item(state, _event("early", 2))
    assert state["last_activity_at"].startswith("2026-01-09")


def test_fold_batch_folds_per_key_and_rejects_bad_records() -> None:
    """A batch gives one state per touched key, counts repeats, and returns undecodable records."""
    good = encode(_event("a", 1))  # type: ignore[arg-type]
    records = [
        RawRecord(good, Position("t", 0, 1)),
        RawRecord(good, Position("t", 0, 2)),
        RawRecord(b"{broken", Position("t", 0, 3)),
    ]
    result = fold_batch(records, lambda key: None, fold_work_item)
    assert list(result.states) == ["work_item/X-1"]
    assert result.applied == 1 and result.duplicates == 1
    assert [(r.position.offset, why[:8]) for r, why in result.rejected] == [(3, "not JSON")]


def test_a_checkpoint_lands_in_the_partition_it_vouches_for() -> None:
    """The checkpoint key of partition p is sent to p by the default partitioner, so it
    follows that partition's states in the same changelog partition."""
    from aiokafka.partitioner import DefaultPartitioner

    for partitions in (1, 4, 12):
        everything = list(range(partitions))
        for partition in everything:
            key = checkpoint_key(partition, partitions)
            assert is_checkpoint(key.decode())
            assert DefaultPartitioner()(key, everything, everything) == partition
    assert not is_checkpoint("work_item/X-1")


def test_resume_from_just_after_the_checkpoint_or_from_the_beginning() -> None:
    """A partition resumes just after its checkpointed offset, or from the beginning without one."""
    checkpoint = {"positions": {"hub.workitems/2": 41, "hub.roadmap/2": 0}}
    streams = ["hub.workitems/2", "hub.customers/2", "hub.roadmap/2"]
    assert resume_offsets(checkpoint, streams) == {
        "hub.workitems/2": 42,
        "hub.customers/2": None,
        "hub.roadmap/2": 1,
    }
    assert resume_offsets(None, streams[:1]) == {"hub.workitems/2": None}


def test_a_fold_that_raises_parks_the_event_and_the_batch_goes_on() -> None:
    """A bug in a fold for one event dead-letters that event with the reason; the other
    keys in the batch are still folded (the partition keeps moving)."""
    first, second = _event("a", 1), _event("b", 2)
    other = decode_dict(
        event_dict("work_item.updated", "X-2", "c", at=datetime(2026, 1, 3, tzinfo=UTC))
    )

    def fragile(state: dict | None, event: object) -> dict:
        if getattr(event, "event_id", None) == second.event_id:  # type: ignore[attr-defined]
            raise KeyError("estimate")
        return fold_work_item(state, event)  # type: ignore[arg-type]

    records = [
        RawRecord(encode(e), Position("t", 0, n))  # type: ignore[arg-type]
        for n, e in enumerate([first, second, other])
    ]
    result = fold_batch(records, lambda key: None, fragile)
    assert sorted(result.states) == ["work_item/X-1", "work_item/X-2"]
    assert [(r.position.offset, why) for r, why in result.rejected] == [
        (1, "fold failed: KeyError: 'estimate'")
    ]


def test_tracking_stays_bounded_however_long_a_keys_history() -> None:
    """A thousand changes to one key leave only the recent ids and one position per stream:
    the state's size follows its facts, not its history of deliveries."""
    from projections.tracking import RECENT_IDS

    state = None
    for n in range(1000):
        event = _event(f"c{n}", 1 + n % 28)
        state, _ = apply_tracked(fold_work_item, state, event, Position("t", 0, n))
    assert state is not None
    assert len(state["_tracking"]["event_ids"]) == RECENT_IDS
    assert state["_tracking"]["positions"] == {"t/0": 999}


def test_a_whole_history_told_again_in_any_order_changes_nothing() -> None:
    """A full backfill re-publishes every event long after its id left the recent window:
    folded again with no id memory at all, newest first, every entity (work items,
    requests with escalations, deals' stages, roadmap versions, sprints) is exactly what
    it was. The folds are idempotent by content."""
    import random

    from projections.entities import fold_entity
    from tests.scenarios import organisation, sprint_events

    at = datetime(2026, 2, 10, 9, tzinfo=UTC)
    more = [
        ("customer_request.escalated", "IDM-Z1", {"team": "idm-team-0"}),
        ("customer_request.status_changed", "IDM-Z1", {"from_status": "new", "to_status": "open"}),
        ("customer_request.closed", "IDM-Z1", {"resolution": "solved"}),
        ("deal.stage_changed", "IDM-D1", {"from_stage": "lead", "to_stage": "won"}),
        ("work_item.assigned", "IDM-1", {"to_assignee": "ana"}),
        ("work_item.estimated", "IDM-1", {"from_estimate": 3, "to_estimate": 5}),
        ("theme.edited", "theme-1", {"action": "rename", "name": "Exports"}),
    ]
    extra = [
        decode_dict(event_dict(type_, key, f"x{n}", at=at + timedelta(hours=n), payload=body))
        for n, (type_, key, body) in enumerate(more)
    ]
    events = organisation(60, seed=5, prefix="IDM") + sprint_events("IDM") + extra
    kinds = {e.entity.kind for e in events}
    assert {"work_item", "customer_request", "roadmap_item", "team", "sprint", "deal"} <= kinds
    entities: dict = {}

    def fold_all(batch: list) -> None:
        for event in batch:
            bucket = entities.setdefault(event.entity.kind, {})
            bucket[event.entity.key] = fold_entity(bucket.get(event.entity.key), event)

    fold_all(events)
    before = {kind: dict(states) for kind, states in entities.items()}
    again = list(reversed(events))
    random.Random(3).shuffle(again[: len(again) // 2])
    fold_all(again)
    assert entities == before
