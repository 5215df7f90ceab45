"""Sprints as their boards describe them, and which sprints a work item was in when.

A sprint's own record is a snapshot (name, state, start, end, completion, goal); the
membership comes from the work items' changelogs (``work_item.sprint_changed`` at the
time of each change), so the items in a sprint at any instant — its commitment at its
start above all — are rebuilt from the log rather than read from today's sprint field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Set
from datetime import datetime
from typing import Any

from core.events import Event, SprintUpserted, iso
from projections.rollups import WorkIndex
from projections.timeline import category_at
from projections.work_items import estimate_at

__all__ = [
    "fold_sprint",
    "sprints_at",
    "sprint_report",
    "sprint_reports",
    "velocity",
]

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


# --- the sprint report -----------------------------------------------------------------


def _membership(state: State, sprint: str, start: str, end: str) -> tuple[bool, bool, str | None]:
    """Whether the item was in ``sprint`` at ``start`` and at ``end``, and when it first
    joined it in (start, end]: one walk over its changes, not one per question and
    candidate (the sprint reports of a 1,000-engineer organisation ask 160k of them)."""
    inside = at_start = at_end = False
    joined: str | None = None
    until = max(start, end)
    for change in state.get("sprint_changes", []):
        at = change["at"]
        if at > until:
            break
        if sprint in change["removed"]:
            inside = False
        if sprint in change["added"]:
            inside = True
            if joined is None and start < at <= end:
                joined = str(at)
        if at <= start:
            at_start = inside
        if at <= end:
            at_end = inside
    return at_start, at_end, joined


def _next_sprint(state: State, sprint: str, after: str) -> str | None:
    for change in state.get("sprint_changes", []):
        if change["at"] >= after:
            joined = [s for s in change["added"] if s != sprint]
            if joined:
                return joined[0]
    return None


def _points(values: Iterable[float | None]) -> float:
    return round(sum(v or 0.0 for v in values), 2)


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def sprint_report(
    sprint: State,
    work_items: Mapping[str, State],
    views: Mapping[str, Mapping[str, Any]],
    now: datetime,
    members: Set[str],
) -> dict[str, Any]:
    """A sprint as Jira's Sprint Report tells it, rebuilt from the membership changes.

    Committed: in the sprint at its start and not already done. Added: joined after the
    start. Items already done when they joined are "completed outside of this sprint", as
    Jira lists them, and count as neither committed nor completed. Removed: in it
    after the start but not at its end. Completed: in it and done at its end (completion
    for a closed sprint, ``now`` for an active one). Carried over: in it and not done when
    it closed. Points are the estimates as they stood at the start (commitment) and at
    the end (everything else). Planning accuracy is completed committed work over
    committed work (LinearB); capacity accuracy counts unplanned additions completed too.
    """
    key = sprint["key"]
    start = sprint.get("start_at")
    closed = sprint.get("state") == "closed"
    end_text = sprint.get("completed_at") or (sprint.get("end_at") if closed else None)
    now_text = iso(now)
    if end_text is None or end_text > now_text:
        end_text, closed = now_text, False
    candidates = members
    report: dict[str, Any] = {
        "key": key,
        "name": sprint.get("name"),
        "board": sprint.get("board"),
        "state": "closed" if closed else "active",  # as of ``now``: time travel reopens it
        "goal": sprint.get("goal"),
        "start_at": start,
        "end_at": sprint.get("end_at"),
        "completed_at": sprint.get("completed_at") if closed else None,
        "team": None,
    }
    if start is None or start > now_text:  # not started: no commitment yet
        planned = sorted(k for k in candidates if key in sprints_at(work_items[k], now_text))
        return {**report, "state": "future", "planned": planned, "numbers": None}

    def done_at(item: str, moment: str) -> bool:
        view = views.get(item)
        return bool(view and category_at(view["timeline"], moment) == "done")

    membership = {k: _membership(work_items[k], key, start, end_text) for k in candidates}
    at_start = {k for k, (then, _, _) in membership.items() if then}
    at_end = {k for k, (_, last, _) in membership.items() if last}
    joined = {k: at for k, (then, _, at) in membership.items() if not then and at}
    added = set(joined)
    committed = {k for k in at_start if not done_at(k, start)}
    # already done when it joined: Jira's "issues completed outside of this sprint"
    outside = (at_start - committed) | {k for k, at in joined.items() if done_at(k, at)}
    removed = (at_start | added) - at_end
    completed = {k for k in at_end - outside if done_at(k, end_text)}
    not_completed = at_end - completed - outside
    teams = Counter(views[k]["team"] for k in at_start | added if k in views and views[k]["team"])
    start_points = {k: estimate_at(work_items[k], start) for k in committed}
    end_points = {k: estimate_at(work_items[k], end_text) for k in at_start | added}
    committed_points = _points(start_points.values())
    completed_points = _points(end_points[k] for k in completed)
    numbers = {
        "committed": len(committed),
        "committed_points": committed_points,
        "added": len(added),
        "added_points": _points(end_points[k] for k in added),
        "removed": len(removed),
        "removed_points": _points(end_points[k] for k in removed),
        "completed": len(completed),
        "completed_points": completed_points,
        "completed_committed": len(completed & committed),
        "completed_committed_points": _points(start_points[k] for k in completed & committed),
        "not_completed": len(not_completed),
        "carried_over": len(not_completed) if closed else 0,
        "completed_outside": len(outside),
        "planning_accuracy": _ratio(len(completed & committed), len(committed)),
        "planning_accuracy_points": _ratio(
            _points(start_points[k] for k in completed & committed), committed_points
        ),
        "capacity_accuracy": _ratio(len(completed), len(committed)),
        "capacity_accuracy_points": _ratio(completed_points, committed_points),
        "velocity_points": completed_points,
    }
    carried = (
        {k: _next_sprint(work_items[k], key, end_text) for k in not_completed} if closed else {}
    )
    return {
        **report,
        "team": teams.most_common(1)[0][0] if teams else None,
        "numbers": numbers,
        "items": {
            "committed": sorted(committed),
            "added": sorted(added),
            "removed": sorted(removed),
            "completed": sorted(completed),
            "not_completed": sorted(not_completed),
            "completed_outside": sorted(outside),
            "carried_over_to": dict(sorted(carried.items())),
        },
    }


def sprint_reports(
    entities: Mapping[str, Mapping[str, State]],
    index: WorkIndex,
    now: datetime,
    *,
    team: str | None = None,
) -> list[dict[str, Any]]:
    """Every sprint's report, in start order (unstarted ones last), optionally one team's;
    ``index`` gives the items' views and which items each sprint ever held."""
    work_items = entities.get("work_item", {})
    members = index.sprint_members()
    reports = [
        sprint_report(state, work_items, index.stable, now, members.get(key, set()))
        for key, state in entities.get("sprint", {}).items()
    ]
    if team is not None:
        reports = [r for r in reports if r["team"] == team]
    return sorted(reports, key=lambda r: (r["start_at"] is None, r["start_at"] or "", r["key"]))


def velocity(reports: Iterable[Mapping[str, Any]], last: int = 3) -> dict[str, Any]:
    """Closed sprints' velocity and accuracies, and their means over the ``last`` few."""
    closed = [r for r in reports if r["state"] == "closed" and r.get("numbers")]
    recent = closed[-last:]

    def mean(field: str) -> float | None:
        values = [r["numbers"][field] for r in recent if r["numbers"][field] is not None]
        return round(sum(values) / len(values), 4) if values else None

    return {
        "sprints": [
            {
                "key": r["key"],
                "name": r["name"],
                "completed_at": r["completed_at"],
                "committed_points": r["numbers"]["committed_points"],
                "velocity_points": r["numbers"]["velocity_points"],
                "planning_accuracy": r["numbers"]["planning_accuracy"],
                "capacity_accuracy": r["numbers"]["capacity_accuracy"],
            }
            for r in closed
        ],
        "mean_of_last": len(recent),
        "mean_velocity_points": mean("velocity_points"),
        "mean_planning_accuracy": mean("planning_accuracy"),
        "mean_capacity_accuracy": mean("capacity_accuracy"),
    }
