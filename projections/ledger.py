"""The entity ledger: what the hub has heard about each entity, and when.

The smallest useful projection: it proves events flow from topic to table to API, and
answers "has the hub seen PROJ-42, and what was the last thing that happened to it?".
"""

from __future__ import annotations

from typing import Any

from hub.events import Event, iso

__all__ = ["fold_ledger"]


def fold_ledger(state: dict[str, Any] | None, event: Event) -> dict[str, Any]:
    occurred = iso(event.occurred_at)
    if state is None:
        state = {
            "kind": event.entity.kind,
            "key": event.entity.key,
            "events": 0,
            "first_occurred_at": occurred,
            "last_occurred_at": occurred,
            "last_type": event.type,
            "sources": [],
        }
    latest = occurred >= state["last_occurred_at"]
    sources = state["sources"]
    if event.source.system not in sources:
        sources = sorted([*sources, event.source.system])
    return {
        **state,
        "events": state["events"] + 1,
        "first_occurred_at": min(state["first_occurred_at"], occurred),
        "last_occurred_at": occurred if latest else state["last_occurred_at"],
        "last_type": event.type if latest else state["last_type"],
        "sources": sources,
    }
