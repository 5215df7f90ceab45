"""Make any fold idempotent by remembering what it already applied, in bounded space.

A projection value records the log position (partition offset) it reflects and the ids
of the last ``RECENT_IDS`` events folded into it. An event whose position is not past the
recorded one, or whose id is among the recent ones, is a repeat (at-least-once delivery,
a restarted worker, a webhook and a poll telling the same change, a re-pulled page) and
is skipped. Older repeats (a full backfill after a cursor reset re-publishes a key's
whole history) are folded again, and change nothing: the folds are idempotent by
content (latest-wins snapshots, link maps keyed by target, and sorted histories that
refuse an entry equal to one they hold, ``projections.timeline.insert_sorted``). So a
key's tracking no longer grows with its history. State must stay JSON-serialisable.
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
    "RECENT_IDS",
]

State = dict[str, Any]
Fold = Callable[[State | None, Event], State]
TRACKING_KEY = "_tracking"
RECENT_IDS = 64  # repeats come soon after the original: retries, webhook + poll, re-pulls


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
    recent = [*old.get("event_ids", ())[-(RECENT_IDS - 1) :], event.event_id]
    new_state[TRACKING_KEY] = {"event_ids": recent, "positions": positions}
    return new_state, True
