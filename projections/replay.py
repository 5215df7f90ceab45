"""Rebuilding projections from a stream of events, free of any per-event framework cost.

Used for time travel (fold only what had happened by a moment) and for full replays.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.events import Event
from core.log_reader import Position
from projections.entities import fold_entity
from projections.tracking import apply_tracked

__all__ = ["Replay", "replay"]


class Replay:
    """Fold batches as they arrive (idempotently) into kind -> key -> state."""

    def __init__(self, until: datetime | None = None) -> None:
        self.until = until
        self.entities: dict[str, dict[str, dict[str, Any]]] = {}
        self.events = 0

    def feed(self, events: Iterable[tuple[Event, Position | None]]) -> None:
        until, entities = self.until, self.entities
        for event, position in events:
            self.events += 1
            if until is not None and event.occurred_at > until:
                continue
            bucket = entities.setdefault(event.entity.kind, {})
            key = event.entity.key
            bucket[key], _ = apply_tracked(fold_entity, bucket.get(key), event, position)


def replay(
    events: Iterable[tuple[Event, Position | None]], until: datetime | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    rebuilt = Replay(until)
    rebuilt.feed(events)
    return rebuilt.entities
