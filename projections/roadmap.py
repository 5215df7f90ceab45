"""Roadmap items and teams as planned: every change re-states the plan, kept with its history.

Keeping every version (not just the latest) is what lets drift be judged against the plan
as it stood, and scope be compared with the scope at commitment.
"""

from __future__ import annotations

from typing import Any

from core.events import (
    Event,
    InvestmentDefined,
    RoadmapItemChanged,
    RoadmapItemPlanned,
    RoadmapItemRemoved,
    TeamDefined,
    iso,
)
from projections.timeline import insert_sorted

__all__ = ["fold_roadmap_item", "fold_team", "fold_investment", "plan_at"]

State = dict[str, Any]


def fold_roadmap_item(state: State | None, event: Event) -> State:
    state = state or {
        "kind": "roadmap_item",
        "key": event.entity.key,
        "versions": [],
        "removed_at": None,
    }
    at = iso(event.occurred_at)
    match event:
        case RoadmapItemPlanned() | RoadmapItemChanged():
            version = {"at": at, **event.payload.model_dump(mode="json")}
            state = {**state, "versions": insert_sorted(state["versions"], version)}
            if state["removed_at"] and state["removed_at"] < at:
                state["removed_at"] = None  # planned again after its removal
        case RoadmapItemRemoved():
            if not any(v["at"] > at for v in state["versions"]):
                state = {**state, "removed_at": at}
    return state


def plan_at(state: State, at: str | None = None) -> dict[str, Any] | None:
    """The plan as it stood at ``at`` (default: the latest)."""
    versions = [v for v in state["versions"] if at is None or v["at"] <= at]
    return versions[-1] if versions else None


def _fold_version(state: State, event: Event) -> State:
    version = {"at": iso(event.occurred_at), **event.payload.model_dump(mode="json")}
    return {**state, "versions": insert_sorted(state["versions"], version)}


def fold_team(state: State | None, event: Event) -> State:
    state = state or {"kind": "team", "key": event.entity.key, "versions": []}
    return _fold_version(state, event) if isinstance(event, TeamDefined) else state


def fold_investment(state: State | None, event: Event) -> State:
    """The investment policy, every version kept: the mix is judged by the rules of its week."""
    state = state or {"kind": "investment", "key": event.entity.key, "versions": []}
    return _fold_version(state, event) if isinstance(event, InvestmentDefined) else state
