"""Work item lifecycle: stages with entry and exit times, lead and cycle time, flow efficiency.

The fold stores facts (snapshots, transitions, assignments, links, worklogs); the numbers
that depend on "now" are derived by ``work_item_view``. Transitions are kept sorted by when
they happened in the source, so events arriving out of order still build the right
timeline. Definitions follow Swarmia and the Flow Framework: cycle time counts only time
in in-progress statuses; blocked time is in-progress time in a blocked-looking status; flow
efficiency is active time over the whole started-to-done flow time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from core.events import (
    Event,
    WorkItemAssigned,
    WorkItemCreated,
    WorkItemDeleted,
    WorkItemEstimated,
    WorkItemLinked,
    WorkItemSprintChanged,
    WorkItemStatusChanged,
    WorkItemUpdated,
    WorklogAdded,
    iso,
    parse_utc,
)
from projections.timeline import (
    Span,
    build_timeline,
    insert_sorted,
    is_blocked_status,
    next_working_day,
    seconds_between,
    spans_of,
    working_days,
)

__all__ = [
    "fold_work_item",
    "work_item_view",
    "new_work_item",
    "ViewBase",
    "view_base",
    "view_at",
    "cycle_time_at",
    "held_on",
    "held_runs",
    "HeldRun",
    "WorkedStretch",
    "estimate_at",
]

State = dict[str, Any]
_SNAPSHOT_FIELDS = (
    "title",
    "item_type",
    "project",
    "status",
    "status_category",
    "assignee",
    "priority",
    "labels",
    "components",
    "fix_versions",
    "sprint",
    "parent",
    "roadmap_item",
    "resolution",
    "due_date",
    "estimate",
    "team",
    "url",
)


def new_work_item(key: str) -> State:
    return {
        "kind": "work_item",
        "key": key,
        "fields": {},
        "fields_at": "",
        "created_at": None,
        "transitions": [],
        "assignments": [],
        "estimate_at": "",
        "estimates": [],
        "links": {},
        "worklogs": {},
        "sprint_changes": [],
        "deleted_at": None,
        "last_activity_at": None,
        "attributes": {},
    }


def _touch(state: State, at: str) -> State:
    last = state["last_activity_at"]
    return {**state, "last_activity_at": at if last is None or at > last else last}


def fold_work_item(state: State | None, event: Event) -> State:
    state = _touch(state or new_work_item(event.entity.key), iso(event.occurred_at))
    at = iso(event.occurred_at)
    match event:
        case WorkItemCreated() | WorkItemUpdated():
            payload = event.payload.model_dump(mode="json")
            if at >= state["fields_at"]:
                fields = {name: payload[name] for name in _SNAPSHOT_FIELDS}
                for name in payload.get("unknown_fields") or ():  # not reported: keep ours
                    if name in fields:
                        fields[name] = state["fields"].get(name)
                if state["estimate_at"] > at:  # a later estimate event wins over an older snapshot
                    fields["estimate"] = state["fields"].get("estimate")
                state = {
                    **state,
                    "fields": fields,
                    "fields_at": at,
                    "attributes": {**state["attributes"], **payload["attributes"]},
                }
            created = payload["created_at"] or (at if isinstance(event, WorkItemCreated) else None)
            if created and (state["created_at"] is None or created < state["created_at"]):
                state = {**state, "created_at": created}
        case WorkItemStatusChanged():
            move = {
                "at": at,
                "from_status": event.payload.from_status,
                "to_status": event.payload.to_status,
                "from_category": event.payload.from_category,
                "to_category": event.payload.to_category,
                "event_id": event.event_id,
            }
            state = {**state, "transitions": insert_sorted(state["transitions"], move)}
        case WorkItemAssigned():
            change = {"at": at, "to": event.payload.to_assignee}
            state = {**state, "assignments": insert_sorted(state["assignments"], change)}
        case WorkItemEstimated():
            estimate: dict[str, Any] = {
                "at": at,
                "from": event.payload.from_estimate,
                "to": event.payload.to_estimate,
            }
            state = {**state, "estimates": insert_sorted(state.get("estimates", []), estimate)}
            if at >= state["estimate_at"]:
                fields = {**state["fields"], "estimate": event.payload.to_estimate}
                state = {**state, "fields": fields, "estimate_at": at}
        case WorkItemLinked():
            relation = event.payload.relation
            links = {k: dict(v) for k, v in state["links"].items()}
            current = links.setdefault(relation, {}).get(event.payload.target.key)
            if current is None or at >= current["at"]:
                links[relation][event.payload.target.key] = {
                    "at": at,
                    "removed": event.payload.removed,
                }
            state = {**state, "links": links}
        case WorklogAdded():
            log = {
                "author": event.payload.author,
                "started_at": iso(event.payload.started_at),
                "seconds": event.payload.seconds_spent,
            }
            state = {**state, "worklogs": {**state["worklogs"], event.payload.worklog_id: log}}
        case WorkItemSprintChanged():
            membership: dict[str, Any] = {
                "at": at,
                "added": list(event.payload.added),
                "removed": list(event.payload.removed),
            }
            changes = insert_sorted(state.get("sprint_changes", []), membership)
            state = {**state, "sprint_changes": changes}
        case WorkItemDeleted():
            state = {**state, "deleted_at": at}
    return state


def estimate_at(state: State, at: str) -> float | None:
    """The estimate as it stood at ``at``: the last change by then, else what the first
    later change started from, else today's (an item never re-estimated)."""
    changes = state.get("estimates", [])
    before = [c for c in changes if c["at"] <= at]
    if before:
        return before[-1]["to"]
    if changes:
        return changes[0]["from"]
    return state["fields"].get("estimate")


def linked(state: State, relation: str) -> list[str]:
    """Targets of ``relation`` that are currently linked (latest link event wins)."""
    return sorted(k for k, v in state["links"].get(relation, {}).items() if not v["removed"])


def parent_of(state: State) -> str | None:
    parents = linked(state, "parent")
    return state["fields"].get("parent") or (parents[0] if parents else None)


def roadmap_of(state: State) -> str | None:
    direct = linked(state, "roadmap_item")
    return state["fields"].get("roadmap_item") or (direct[0] if direct else None)


def timeline(state: State) -> list[dict[str, Any]]:
    initial = (state["fields"].get("status"), state["fields"].get("status_category"))
    return build_timeline(state["created_at"], initial, state["transitions"])


def _assignees_by_day(state: State, days: list[date]) -> Iterator[tuple[date, str | None]]:
    """Who the item was assigned to at the end of each of ``days`` (ascending), in one walk
    over its assignment changes: the last change by that day's end; with no changes at
    all, the assignee the source reports."""
    changes = state["assignments"]
    if not changes:
        person = state["fields"].get("assignee")
        for day in days:
            yield day, person
        return
    person, seen = None, 0
    for day in days:
        day_end = f"{day.isoformat()}T23:59:59.999999Z"
        while seen < len(changes) and changes[seen]["at"] <= day_end:
            person = changes[seen]["to"]
            seen += 1
        yield day, person


HeldRun = tuple[str, int, int]  # (person, first day, last day), days as ``date.toordinal``


@dataclass(frozen=True)
class WorkedStretch:
    """A stage in progress that the item has left: when, and who held it on the working
    days it touched (days with nobody assigned left out). Effort allocation reads these for
    every item at every evaluation; they change only with the item, so they are worked
    out once per state with the rest of its ``ViewBase``.

    ``held`` is runs of working days one person held it, not a pair per day: the forked
    evaluation that reads them copies every memory page an object it reads lies on, and
    a pair a day was 120k page copies (0.4 s) at 50x the demo."""

    entered: datetime
    exited: datetime
    held: tuple[HeldRun, ...]


def held_on(state: State, days: list[date]) -> tuple[tuple[str, date], ...]:
    """(person, day) for each of ``days`` (ascending) someone held the item at its end:
    the pairs effort allocation counts by."""
    return tuple((person, day) for day, person in _assignees_by_day(state, days) if person)


def held_runs(pairs: tuple[tuple[str, date], ...]) -> tuple[HeldRun, ...]:
    """``held_on``'s pairs (working days, ascending) as runs of consecutive working days
    held by one person: a weekend does not end a run, a day held by nobody does."""
    runs: list[HeldRun] = []
    for person, day in pairs:
        ordinal = day.toordinal()
        if runs and runs[-1][0] == person and next_working_day(runs[-1][2]) == ordinal:
            runs[-1] = (person, runs[-1][1], ordinal)
        else:
            runs.append((person, ordinal, ordinal))
    return tuple(runs)


def _worked_stretches(state: State, segments: list[dict[str, Any]]) -> tuple[WorkedStretch, ...]:
    stretches = []
    for segment in segments:
        if segment["category"] != "in_progress" or segment["exited_at"] is None:
            continue
        entered, exited = parse_utc(segment["entered_at"]), parse_utc(segment["exited_at"])
        held = held_runs(held_on(state, working_days(entered, exited)))
        stretches.append(WorkedStretch(entered, exited, held))
    return tuple(stretches)


@dataclass(frozen=True)
class ViewBase:
    """A work item's view minus the clock: everything that changes only with its state.

    Only the stage a work item is in now (the timeline's open end) grows with the clock, so
    a read model computes this once per state change and ``view_at`` finishes it per query
    in a few microseconds, instead of re-walking every timeline on every request.
    ``fields`` holds every view field; the clock-dependent ones are filled by ``view_at``.
    """

    fields: dict[str, Any]
    cycle_closed: float  # in-progress seconds of the stages already left
    blocked_closed: float
    open_since: datetime | None  # entry of the stage with no exit yet
    open_in_progress: bool
    open_blocked: bool
    started: datetime | None
    done: datetime | None
    worked: tuple[WorkedStretch, ...] = ()  # the in-progress stages already left
    # Every in-progress stage, in order (``timeline.spans_of``); None: the timeline's
    # stages overlap, or unknown, and only its segments answer (``timeline.moments_in``).
    in_progress: tuple[Span, ...] | None = None
    # (author, day, seconds) of each worklog with an author: effort allocation reads them
    # for every item at every evaluation, the state's worklogs map only changes with it.
    logged: tuple[tuple[str, date, float], ...] = ()
    sprints: frozenset[str] = frozenset()  # every sprint the item was ever added to


def view_base(state: State) -> ViewBase:
    segments = timeline(state)
    cycle = blocked = 0.0
    started_at = done_at = None
    reopens = 0
    open_since, open_in_progress, open_blocked = None, False, False
    for index, segment in enumerate(segments):
        category = segment["category"]
        in_progress = category == "in_progress"
        is_blocked = in_progress and is_blocked_status(segment["status"])
        if segment["exited_at"] is None:
            open_since = parse_utc(segment["entered_at"])
            open_in_progress, open_blocked = in_progress, is_blocked
        else:
            seconds = seconds_between(segment["entered_at"], segment["exited_at"])
            segment["seconds"] = seconds
            cycle += seconds if in_progress else 0.0
            blocked += seconds if is_blocked else 0.0
        if in_progress:
            started_at = started_at or segment["entered_at"]
        if category == "done":
            done_at = segment["entered_at"]
            started_at = started_at or segment["entered_at"]
        elif done_at is not None and index > 0:
            reopens += 1
            done_at = None
    current = segments[-1] if segments else {"status": None, "category": None}
    category = current["category"] or state["fields"].get("status_category")
    stage = (
        "blocked"
        if category == "in_progress" and is_blocked_status(current["status"])
        else category
    )
    created = state["created_at"]
    fields = state["fields"]
    view = {
        "key": state["key"],
        "title": fields.get("title"),
        "type": fields.get("item_type"),
        "project": fields.get("project"),
        "status": current["status"] or fields.get("status"),
        "status_category": category,
        "stage": "deleted" if state["deleted_at"] else stage,
        "team": fields.get("team"),
        "parent": parent_of(state),
        "roadmap_item": roadmap_of(state),
        "estimate": fields.get("estimate"),
        "priority": fields.get("priority"),
        "labels": fields.get("labels") or [],
        "components": fields.get("components") or [],
        "fix_versions": fields.get("fix_versions") or [],
        "url": fields.get("url"),
        "created_at": created,
        "started_at": started_at,
        "done_at": done_at,
        "updated_at": state["last_activity_at"],
        "deleted_at": state["deleted_at"],
        "lead_time_seconds": seconds_between(created, done_at) if created and done_at else None,
        "cycle_time_seconds": None,
        "blocked_seconds": 0.0,
        "flow_efficiency": None,
        "reopen_count": reopens,
        "timeline": segments,
    }
    return ViewBase(
        fields=view,
        cycle_closed=cycle,
        blocked_closed=blocked,
        open_since=open_since,
        open_in_progress=open_in_progress,
        open_blocked=open_blocked,
        started=parse_utc(started_at) if started_at else None,
        done=parse_utc(done_at) if done_at else None,
        worked=_worked_stretches(state, segments),
        in_progress=spans_of(segments, "in_progress"),
        logged=tuple(
            (log["author"], parse_utc(log["started_at"]).date(), log["seconds"])
            for log in state["worklogs"].values()
            if log["author"]
        ),
        sprints=frozenset(
            sprint for change in state.get("sprint_changes", []) for sprint in change["added"]
        ),
    )


def cycle_time_at(base: ViewBase, now: datetime) -> float | None:
    """In-progress seconds as of ``now`` (None: never started): the view's
    ``cycle_time_seconds`` without building the view, for percentiles over many items."""
    if base.started is None:
        return None
    if base.open_since is not None and base.open_in_progress:
        return base.cycle_closed + _open_seconds(base.open_since, now)
    return base.cycle_closed


def _open_seconds(since: datetime, now: datetime) -> float:
    """Seconds in the stage entered at ``since`` as of ``now`` (none before it)."""
    return max(0.0, (now - since).total_seconds())


def view_at(base: ViewBase, now: datetime) -> dict[str, Any]:
    """The view as of ``now``: a new dict; ``base`` is shared and never changed."""
    view = dict(base.fields)
    blocked = base.blocked_closed
    if base.open_since is not None:
        seconds = _open_seconds(base.open_since, now)
        segments = list(view["timeline"])
        segments[-1] = {**segments[-1], "seconds": seconds}
        view["timeline"] = segments
        blocked += seconds if base.open_blocked else 0.0
    cycle = cycle_time_at(base, now)
    if cycle is not None and base.started is not None:
        flow_time = max(0.0, ((base.done or now) - base.started).total_seconds())
        view["cycle_time_seconds"] = cycle
        view["flow_efficiency"] = round((cycle - blocked) / flow_time, 4) if flow_time else None
    view["blocked_seconds"] = blocked
    return view


def work_item_view(state: State, now: datetime) -> dict[str, Any]:
    """What the API shows: current stage, timeline and the flow numbers as of ``now``."""
    return view_at(view_base(state), now)
