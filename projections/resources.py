"""Team resources per ISO week: capacity, WIP, throughput, effort by initiative, support load.

Effort follows LinearB's allocation model: each person's working day is split equally
across the work items they had in progress that day (or by the time they logged, when they
logged any that day); five working days make one FTE-week. An item's effort belongs to its
roadmap initiative, found through its parents; effort on items with none is unplanned.
Per-person detail is used for the split only and never leaves this module.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from core.events import iso
from projections.roadmap import plan_at
from projections.rollups import Entities, WorkIndex
from projections.timeline import (
    iso_week,
    moments_in,
    moments_within,
    week_bounds,
    working_days,
    working_ordinals,
)
from projections.work_items import held_on

__all__ = [
    "team_resources",
    "Allocation",
    "weekly_allocation",
    "roadmap_owner",
    "weeks_between",
    "Ledger",
    "ledger",
    "FTE_DAYS_PER_WEEK",
]

FTE_DAYS_PER_WEEK = 5
UNPLANNED = "unplanned"


def roadmap_owner(entities: Entities, index: WorkIndex) -> dict[str, str]:
    """Work item -> the roadmap initiative it (or an ancestor) belongs to."""
    owner: dict[str, str] = {}
    for key, state in sorted(entities.get("roadmap_item", {}).items()):
        if state.get("removed_at"):
            continue
        for member in index.members(key, plan_at(state)):
            owner.setdefault(member, key)
    return owner


Allocation = dict[str, dict[str, float]]
"""ISO week -> work item -> the person-days given to it that week."""


def weekly_allocation(
    entities: Entities, index: WorkIndex, start: datetime, end: datetime
) -> Allocation:
    """ISO week -> work item -> person-days, over the working days in [start, end).

    Each person's day is split on its own (between the items they held, or by the time
    they logged that day) and summed into its week at once: every reader wants weeks, and
    a per-day map of 100k items is a third of a million entries read twice per
    evaluation. The stages an item has left come with their days and assignees worked out,
    and its worklogs with their days (``ViewBase``); only the stage it is in now is
    expanded here, up to now."""
    # Days by number (``date.toordinal``): the stages' runs are expanded here, in the
    # evaluation's own memory, and an int's hash is cheaper than a date's.
    active: dict[tuple[str, int], set[str]] = defaultdict(set)  # (person, day) -> items
    logged: dict[tuple[str, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    now = index.now
    window = working_days(start, end)
    # The window's first and last working days; none (an empty range) when it has none.
    first, last = (window[0].toordinal(), window[-1].toordinal()) if window else (1, 0)
    first_day, end_day = start.date(), end.date()
    states = entities.get("work_item", {})
    for key, base in index.bases.items():
        if base.fields["deleted_at"]:
            continue
        for stretch in base.worked:
            if stretch.exited <= start or stretch.entered >= end:
                continue  # the stage and the window do not meet
            # where they only overlap, the days touched are those both touch
            inside = stretch.entered >= start and stretch.exited <= end
            for person, low, high in stretch.held:
                if not inside:
                    low, high = max(low, first), min(high, last)
                for n in working_ordinals(low, high):
                    active[(person, n)].add(key)
        if base.open_in_progress and base.open_since is not None:
            days = working_days(max(base.open_since, start), min(now, end))
            for person, day in held_on(states[key], days):
                active[(person, day.toordinal())].add(key)
        for author, day, seconds in base.logged:
            if first_day <= day < end_day:
                logged[(author, day.toordinal())][key] += seconds
    week_of: dict[int, str] = {}  # each day's ISO week, worked out once a day

    def week(ordinal: int) -> str:
        found = week_of.get(ordinal)
        if found is None:
            found = week_of[ordinal] = iso_week(date.fromordinal(ordinal))
        return found

    shares: Allocation = defaultdict(lambda: defaultdict(float))
    for person_day, items in active.items():
        if person_day in logged:
            continue
        by_item, portion = shares[week(person_day[1])], 1 / len(items)
        for key in items:
            by_item[key] += portion
    for (_person, ordinal), spent_on in logged.items():
        by_item, total = shares[week(ordinal)], sum(spent_on.values())
        for key, spent in spent_on.items():
            by_item[key] += spent / total
    return shares


def weeks_between(start: datetime, end: datetime) -> list[str]:
    """The ISO weeks [start, end) touches, in order."""
    weeks, cursor = [], start
    while cursor < end:
        week = iso_week(cursor)
        if week not in weeks:
            weeks.append(week)
        cursor = week_bounds(week)[1]
    return weeks


@dataclass(frozen=True)
class Ledger:
    """What every team's weekly rows read, sorted by team in one pass each: its live work
    items, its effort per ISO week and initiative, and the requests escalated to it.

    Without it each team scanned every item, every day's allocation and every request
    once per week: quadratic in the organisation, minutes at 1,000 engineers."""

    items: Mapping[str, Mapping[str, Mapping[str, Any]]]  # team -> key -> stable view
    effort: Mapping[str, Mapping[str, Mapping[str, float]]]  # team -> week -> owner -> FTE
    requests: Mapping[str, list[dict[str, Any]]]  # team -> requests it was escalated


def weekly_effort(
    index: WorkIndex,
    shares: Allocation,
    bucket: Callable[[str], str],
) -> dict[str, dict[str, dict[str, float]]]:
    """Team -> ISO week -> bucket -> effort FTE, in one pass over an allocation: the one
    way effort is summed, whether the buckets are initiatives or investment categories.
    Items without a team, or deleted, count for no one."""
    teams = index.live_teams()
    summed: dict[tuple[str, str, str], float] = {}  # flat while summing: one lookup a share
    for week, by_item in shares.items():
        for key, days in by_item.items():
            team = teams.get(key)
            if team is not None:
                cell = (team, week, bucket(key))
                summed[cell] = summed.get(cell, 0.0) + days / FTE_DAYS_PER_WEEK
    effort: dict[str, dict[str, dict[str, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    for (team, week, name), fte in summed.items():
        effort[team][week][name] = fte
    return effort


def ledger(
    entities: Entities,
    index: WorkIndex,
    shares: Allocation,
    owner: Mapping[str, str],
) -> Ledger:
    items: dict[str, dict[str, Mapping[str, Any]]] = defaultdict(dict)
    stable = index.stable
    for key, team in index.live_teams().items():
        items[team][key] = stable[key]
    effort = weekly_effort(index, shares, lambda key: owner.get(key, UNPLANNED))
    requests: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for request in entities.get("customer_request", {}).values():
        for team in {e["team"] for e in request.get("escalations", [])}:
            requests[team].append(request)
    return Ledger(items, effort, requests)


def team_resources(
    team: str,
    entities: Entities,
    index: WorkIndex,
    start: datetime,
    end: datetime,
    *,
    shares: Allocation | None = None,
    owner: dict[str, str] | None = None,
    books: Ledger | None = None,
) -> list[dict[str, Any]]:
    """One row per ISO week touched by [start, end) for ``team``.

    ``shares``, ``owner`` and ``books`` (the ``ledger`` of them) may be passed in when
    computing many teams over one range.
    """
    team_state = entities.get("team", {}).get(team)
    if books is None:
        owner = owner if owner is not None else roadmap_owner(entities, index)
        if shares is None:
            shares = weekly_allocation(entities, index, start, end)
        books = ledger(entities, index, shares, owner)
    items = books.items.get(team, {})
    roadmap = entities.get("roadmap_item", {})
    requests = books.requests.get(team, [])
    weeks = weeks_between(start, end)
    bounds = []
    for week in weeks:
        monday, next_monday = week_bounds(week)
        # written once per week, not per item compared (that was a fifth of a 10x evaluation)
        bounds.append((iso(monday), iso(min(next_monday, index.now)), iso(next_monday)))
    starts = [b[0] for b in bounds]
    # Each item placed in its weeks once, not every item compared with every week.
    done_in: list[list[Mapping[str, Any]]] = [[] for _ in weeks]
    wip_in = [0] * len(weeks)
    week_ends = [b[1] for b in bounds]
    for key, view in items.items():
        done_at = view["done_at"]
        if done_at:
            n = bisect.bisect_right(starts, done_at) - 1
            if n >= 0 and done_at < bounds[n][2]:
                done_in[n].append(view)
        if not index.children.get(key):  # leaves only: an epic contains its children's work
            spans = index.bases[key].in_progress
            in_progress = (
                moments_in(view["timeline"], week_ends, "in_progress")
                if spans is None
                else moments_within(spans, week_ends)
            )
            for n in in_progress:
                wip_in[n] += 1
    budgets: dict[str, Any] = {}  # initiative -> its current budget, read once per call
    rows = []
    for n, week in enumerate(weeks):
        week_start, week_end, week_next = bounds[n]
        plan = plan_at(team_state, week_next) if team_state else None
        effort = books.effort.get(team, {}).get(week, {})
        total = sum(effort.values())
        done = done_in[n]
        escalated = [
            r
            for r in requests
            if any(
                e["team"] == team and week_start <= e["at"] < week_next
                for e in r.get("escalations", [])
            )
        ]
        open_support = [
            r
            for r in requests
            if r.get("escalations")
            and r["escalations"][-1]["team"] == team
            and r["escalations"][-1]["at"] < week_end
            and not (r.get("closed_at") and r["closed_at"] <= week_end)
        ]
        rate = plan.get("cost_rate") if plan else None
        distribution: dict[str, int] = defaultdict(int)
        for v in done:
            distribution[v["type"] or "unknown"] += 1
        initiatives = {k: round(v, 4) for k, v in sorted(effort.items()) if k != UNPLANNED}
        rows.append(
            {
                "week": week,
                "capacity_fte": plan.get("capacity_fte") if plan else None,
                "wip": wip_in[n],
                "wip_limit": plan.get("wip_limit") if plan else None,
                "throughput": len(done),
                "effort_fte": round(total, 4),
                "effort_by_initiative_fte": initiatives,
                "unplanned_fte": round(effort.get(UNPLANNED, 0.0), 4),
                "unplanned_share": round(effort.get(UNPLANNED, 0.0) / total, 4) if total else None,
                "support_escalations": len(escalated),
                "support_open": len(open_support),
                "flow_distribution": dict(sorted(distribution.items())),
                "spend_by_initiative": (
                    {k: round(v * rate, 2) for k, v in initiatives.items()}
                    if rate is not None
                    else None
                ),
                "budgets": {
                    k: budgets[k]
                    if k in budgets
                    else budgets.setdefault(k, (plan_at(roadmap[k]) or {}).get("budget"))
                    for k in initiatives
                    if k in roadmap
                },
            }
        )
    return rows
