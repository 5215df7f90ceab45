"""Sprints as their boards describe them, and which sprints a work item was in when.

A sprint's own record is a snapshot (name, state, start, end, completion, goal); the
membership comes from the work items' changelogs (``work_item.sprint_changed`` at the
time of each change), so the items in a sprint at any instant — its commitment at its
start above all — are rebuilt from the log rather than read from today's sprint field.
"""

from __future__ import annotations

from typing import Any

from core.events import Event, SprintUpserted, iso

__all__ = ["fold_sprint", "sprints_at"]

State = dict[str, Any]


def fold_sprint(state: State | None, event: Event) -> State:
    """The newest snapshot of the sprint wins; older ones arriving late change nothing."""
    state = state or {"kind": "sprint", "key": event.entity.key, "observed_at": ""}
    if isinstance(event, SprintUpserted):
        at = iso(event.occurred_at)
        if at >= state["observed_at"]:
            state = {**state, **event.payload.model_dump(mode="json"), "observed_at": at}
    return state


def sprints_at(work_item: State, at: str) -> set[str]:
    """The sprints a work item was in at ``at`` (ISO text), from its sprint changes."""
    members: set[str] = set()
    for change in work_item.get("sprint_changes", []):
        if change["at"] > at:
            break
        members -= set(change["removed"])
        members |= set(change["added"])
    return members
