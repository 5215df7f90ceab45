"""Make any fold idempotent by remembering what it already applied.

A projection value records the event ids folded into it and the log position (partition
offset) it reflects. An event whose id is known, or whose position is not past the
recorded one, is a repeat: at-least-once delivery, a restarted worker or a re-pulled
source change, and it is skipped. State must stay JSON-serialisable (a dict).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.events import Event
from core.log_reader import Position

__all__ = [
    "Fold",
    "apply_tracked",
    "is_applied",
    "TRACKING_KEY",
]

State = dict[str, Any]
Fold = Callable[[State | None, Event], State]
TRACKING_KEY = "_tracking"


def is_applied(state: State | None, event: Event, position: Position | None = None) -> bool:
    if not state:
        return False
    tracking = state.get(TRACKING_KEY, {})
    if event.event_id in tracking.get("event_ids", ()):
        return True
    if position is not None:
        seen = tracking.get("positions", {}).get(position.stream)
        if seen is not None and position.offset <= seen:
            return True
    return False


def apply_tracked(
    fold: Fold, state: State | None, event: Event, position: Position | None = None
) -> tuple[State, bool]:
    """Fold unless already applied; returns the new state and whether it changed."""
    if state is not None and is_applied(state, event, position):
        return state, False
    new_state = fold(state, event)
    old = (state or {}).get(TRACKING_KEY, {})
    positions = dict(old.get("positions", {}))
    if position is not None:
        positions[position.stream] = max(position.offset, positions.get(position.stream, -1))
    new_state[TRACKING_KEY] = {
        "event_ids": [*old.get("event_ids", []), event.event_id],
        "positions": positions,
    }
    return new_state, True
