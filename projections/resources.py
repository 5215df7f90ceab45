"""Team resources per ISO week: capacity, WIP, throughput, effort by initiative, support load.

Effort follows LinearB's allocation model: each person's working day is split equally
across the work items they had in progress that day (or by the time they logged, when they
logged any that day); five working days make one FTE-week. An item's effort belongs to its
roadmap initiative, found through its parents; effort on items with none is unplanned.
Per-person detail is used for the split only and never leaves this module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from core.events import iso, parse_utc
from projections.roadmap import plan_at
from projections.rollups import Entities, WorkIndex
from projections.timeline import category_at, iso_week, week_bounds, working_days

__all__ = [
    "team_resources",
    "daily_allocation",
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


def _assignee_on(state: dict[str, Any], day_end: str) -> str | None:
    person = None
    for change in state["assignments"]:
        if change["at"] > day_end:
            break
        person = change["to"]
    if person is None and not state["assignments"]:
        person = state["fields"].get("assignee")
    return person


def daily_allocation(
    entities: Entities, index: WorkIndex, start: datetime, end: datetime
) -> dict[date, dict[str, float]]:
    """Day -> work item -> share of one person-day, for working days in [start, end)."""
    active: dict[tuple[str, date], set[str]] = defaultdict(set)  # (person, day) -> items
    logged: dict[tuple[str, date], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    now_iso = iso(index.now)
    for key, state in entities.get("work_item", {}).items():
        view = index.stable[key]
        if view["deleted_at"]:
            continue
        for segment in view["timeline"]:
            if segment["category"] != "in_progress":
                continue
            seg_start = max(parse_utc(segment["entered_at"]), start)
            seg_end = min(parse_utc(segment["exited_at"] or now_iso), end)
            for day in working_days(seg_start, seg_end):
                person = _assignee_on(state, f"{day.isoformat()}T23:59:59.999999Z")
                if person:
                    active[(person, day)].add(key)
        for log in state["worklogs"].values():
            day = parse_utc(log["started_at"]).date()
            if log["author"] and start.date() <= day < end.date():
                logged[(log["author"], day)][key] += log["seconds"]
    shares: dict[date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (person, day), items in active.items():
        if (person, day) in logged:
            continue
        for key in items:
            shares[day][key] += 1 / len(items)
    for (_person, day), seconds in logged.items():
        total = sum(seconds.values())
        for key, spent in seconds.items():
            shares[day][key] += spent / total
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
    shares: Mapping[date, Mapping[str, float]],
    bucket: Callable[[str], str],
) -> dict[str, dict[str, dict[str, float]]]:
    """Team -> ISO week -> bucket -> effort FTE, in one pass over a daily allocation: the
    one way effort is summed, whether the buckets are initiatives or investment
    categories. Items without a team, or deleted, count for no one."""
    effort: dict[str, dict[str, dict[str, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    for day, by_item in shares.items():
        week = iso_week(day)
        for key, share in by_item.items():
            held = index.stable.get(key)
            if held is not None and held["team"] and not held["deleted_at"]:
                effort[held["team"]][week][bucket(key)] += share / FTE_DAYS_PER_WEEK
    return effort


def ledger(
    entities: Entities,
    index: WorkIndex,
    shares: Mapping[date, Mapping[str, float]],
    owner: Mapping[str, str],
) -> Ledger:
    items: dict[str, dict[str, Mapping[str, Any]]] = defaultdict(dict)
    for key, view in index.stable.items():
        if view["team"] and not view["deleted_at"]:
            items[view["team"]][key] = view
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
    shares: dict[date, dict[str, float]] | None = None,
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
            shares = daily_allocation(entities, index, start, end)
        books = ledger(entities, index, shares, owner)
    items = books.items.get(team, {})
    roadmap = entities.get("roadmap_item", {})
    requests = books.requests.get(team, [])
    rows = []
    for week in weeks_between(start, end):
        monday, next_monday = week_bounds(week)
        # written once per week, not per item compared (that was a fifth of a 10x evaluation)
        week_start, week_end = iso(monday), iso(min(next_monday, index.now))
        week_next = iso(next_monday)
        plan = plan_at(team_state, week_next) if team_state else None
        effort = books.effort.get(team, {}).get(week, {})
        total = sum(effort.values())
        done = [
            v for v in items.values() if v["done_at"] and week_start <= v["done_at"] < week_next
        ]
        wip = [
            v
            for k, v in items.items()
            # leaves only: an epic contains its children's work
            if category_at(v["timeline"], week_end) == "in_progress" and not index.children.get(k)
        ]
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
                "wip": len(wip),
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
                    k: (plan_at(roadmap[k]) or {}).get("budget")
                    for k in initiatives
                    if k in roadmap
                },
            }
        )
    return rows
