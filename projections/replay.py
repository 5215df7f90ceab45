"""Rebuilding projections from a stream of events, free of any per-event framework cost.

Used for time travel (fold only what had happened by a moment) and for full replays.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from hub.events import Event
from projections.entities import fold_entity
from projections.tracking import Position, apply_tracked

__all__ = ["replay"]

Entities = dict[str, dict[str, dict[str, Any]]]


def replay(
    events: Iterable[tuple[Event, Position | None]], until: datetime | None = None
) -> Entities:
    """Fold events (idempotently) into kind -> key -> state, skipping those after ``until``."""
    entities: Entities = {}
    for event, position in events:
        if until is not None and event.occurred_at > until:
            continue
        bucket = entities.setdefault(event.entity.kind, {})
        key = event.entity.key
        bucket[key], _ = apply_tracked(fold_entity, bucket.get(key), event, position)
    return entities
