"""Folded entities from hand-written events, for tests of views, rules and digests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.codec import decode_dict
from projections.entities import fold_entity
from tests.helpers import event_dict

Entities = dict[str, dict[str, dict[str, Any]]]


def ev(type_: str, key: str, change: str, when: datetime, **payload: Any) -> Any:
    return decode_dict(event_dict(type_, key, change, at=when, payload=payload))


def build(events: list[Any], entities: Entities | None = None) -> Entities:
    entities = entities if entities is not None else {}
    for event in events:
        bucket = entities.setdefault(event.entity.kind, {})
        bucket[event.entity.key] = fold_entity(bucket.get(event.entity.key), event)
    return entities


def item(key: str, when: datetime, **fields: Any) -> Any:
    base = {
        "status": "To Do",
        "status_category": "todo",
        "team": "core",
        "item_type": "Story",
        "created_at": when.isoformat(),
    }
    return ev("work_item.created", key, "c", when, **{**base, **fields})


def start(key: str, when: datetime) -> Any:
    return ev(
        "work_item.status_changed",
        key,
        "s",
        when,
        from_status="To Do",
        to_status="In Progress",
        from_category="todo",
        to_category="in_progress",
    )


def finish(key: str, when: datetime) -> Any:
    return ev(
        "work_item.status_changed",
        key,
        "f",
        when,
        from_status="In Progress",
        to_status="Done",
        from_category="in_progress",
        to_category="done",
    )
