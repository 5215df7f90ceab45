"""Delivery analytics: sprints and planning accuracy, flow metrics, investment balance.

Every answer takes ``as_of``: the same numbers as they stood at any moment, rebuilt from
the log (which Jira's own reports cannot do once a sprint's history is edited). The
computations are the projections' (``projections.sprints``, ``.flow``, ``.investment``);
this module only reads parameters and windows.
"""

from __future__ import annotations

from typing import Any

from core.events import iso
from hub.api.declare import (
    AS_OF,
    CURSOR,
    LIMIT,
    Call,
    Routes,
    choice,
    page_body,
    paginate,
    text,
    window,
)
from hub.api.declare import path as path_param
from hub.api.declare import time as time_param
from hub.api.errors import ApiError
from hub.api.schemas import (
    AgingWipPage,
    CycleTimes,
    InvestmentPage,
    RequestLeadTimes,
    SprintPage,
    SprintReport,
    TeamInvestment,
    ThroughputPage,
    Velocity,
)
from hub.api.snapshots import Snapshot, snapshot
from projections.flow import (
    aging_wip,
    cycle_time_report,
    request_lead_times,
    weekly_throughput,
)
from projections.investment import investment_by_team
from projections.rollups import request_view
from projections.sprints import sprint_report, sprint_reports, velocity

__all__ = ["ROUTES"]

ROUTES = Routes("delivery")
FLOW_WEEKS = 12  # the default window of flow questions: a quarter
INVESTMENT_WEEKS = 8

TEAM = path_param("team", "Team id.")
FROM = time_param("from", "Start of the window. Default: a window's length before to.")
TO = time_param("to", "End of the window. Default: as_of, or now.")


def _reports(snap: Snapshot, team: str | None) -> list[dict[str, Any]]:
    return sprint_reports(snap.entities, snap.index, snap.index.now, team=team)


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """A list row: the report without its item lists."""
    return {k: v for k, v in report.items() if k not in ("items", "planned")}


@ROUTES.get(
    "/api/v1/sprints",
    "Sprints with their commitment, completion and planning accuracy",
    params=(
        text("team", "Only this team's sprints (the team most of a sprint's items belong to)."),
        choice("state", ("future", "active", "closed")),
        LIMIT,
        CURSOR,
        AS_OF,
    ),
    response=SprintPage,
)
async def sprints(call: Call) -> Any:
    args = call.args
    snap = await snapshot(call.services, args["as_of"])
    rows = [_summary(r) for r in _reports(snap, args["team"])]
    if args["state"] is not None:
        rows = [r for r in rows if r["state"] == args["state"]]
    # start order is the natural one; the cursor pages on it (key breaks ties)
    page, token = paginate(
        rows, lambda r: f"{r['start_at'] or '~'}|{r['key']}", args["cursor"], args["limit"]
    )
    return page_body(page, token)


@ROUTES.get(
    "/api/v1/sprints/{sprint}",
    "One sprint's report: which items were committed, added, removed, completed, carried over",
    params=(path_param("sprint", "Sprint key, e.g. jira-sprint-12."), AS_OF),
    response=SprintReport,
)
async def sprint(call: Call) -> Any:
    snap = await snapshot(call.services, call.args["as_of"])
    key = call.args["sprint"]
    state = snap.get("sprint", key)
    if state is None:
        raise ApiError(404, "not_found", f"no sprint {key!r}")
    work_items = snap.entities.get("work_item", {})
    members = snap.index.sprint_members().get(key, set())
    report = sprint_report(state, work_items, snap.index.stable, snap.index.now, members)
    return {**report, "as_of": iso(snap.index.now)}


@ROUTES.get(
    "/api/v1/teams/{team}/velocity",
    "A team's velocity and planning accuracy by closed sprint",
    params=(TEAM, AS_OF),
    response=Velocity,
)
async def team_velocity(call: Call) -> Any:
    snap = await snapshot(call.services, call.args["as_of"])
    snap.require_team(call.args["team"])
    return {"team": call.args["team"], **velocity(_reports(snap, call.args["team"]))}


@ROUTES.get(
    "/api/v1/flow/cycle-time",
    "Cycle-time percentiles (P50/P70/P85/P95) by team, work type and period",
    params=(
        text("team"),
        text("type", "Work type, e.g. Story or Bug."),
        choice("period", ("week", "month"), "Group by ISO week or calendar month of finishing."),
        FROM,
        TO,
        AS_OF,
    ),
    response=CycleTimes,
)
async def cycle_time(call: Call) -> Any:
    args = call.args
    snap = await snapshot(call.services, args["as_of"])
    start, end = window(call.args, snap.index.now, FLOW_WEEKS)
    return cycle_time_report(
        snap.index,
        start,
        end,
        team=args["team"],
        item_type=args["type"],
        period=args["period"] or "month",
    )


@ROUTES.get(
    "/api/v1/flow/throughput",
    "Items finished per ISO week",
    params=(text("team"), FROM, TO, AS_OF),
    response=ThroughputPage,
)
async def throughput(call: Call) -> Any:
    snap = await snapshot(call.services, call.args["as_of"])
    start, end = window(call.args, snap.index.now, FLOW_WEEKS)
    return page_body(weekly_throughput(snap.index, start, end, team=call.args["team"]), None)


@ROUTES.get(
    "/api/v1/flow/aging-wip",
    "Work in progress, oldest first, each item's age against its team's cycle-time percentiles",
    params=(text("team"), LIMIT, CURSOR, AS_OF),
    response=AgingWipPage,
)
async def aging(call: Call) -> Any:
    args = call.args
    snap = await snapshot(call.services, args["as_of"])
    rows = aging_wip(snap.index, snap.index.now, team=args["team"])
    # oldest first; the cursor pages on (age descending, key), fixed-width so it sorts
    rank = {r["key"]: n for n, r in enumerate(rows)}
    page, token = paginate(rows, lambda r: f"{rank[r['key']]:09d}", args["cursor"], args["limit"])
    return page_body(page, token)


@ROUTES.get(
    "/api/v1/flow/request-lead-time",
    "Customer requests' lead time from opened to delivered",
    params=(text("team", "The team the request was escalated to."), FROM, TO, AS_OF),
    response=RequestLeadTimes,
)
async def request_lead_time(call: Call) -> Any:
    snap = await snapshot(call.services, call.args["as_of"])
    start, end = window(call.args, snap.index.now, FLOW_WEEKS)
    views = [
        request_view(state, snap.entities, snap.index)
        for state in snap.entities.get("customer_request", {}).values()
    ]
    return request_lead_times(views, start, end, team=call.args["team"])


@ROUTES.get(
    "/api/v1/teams/{team}/investment",
    "A team's investment mix per ISO week: effort FTE per category against its target",
    params=(TEAM, FROM, TO, AS_OF),
    response=TeamInvestment,
)
async def team_mix(call: Call) -> Any:
    snap = await snapshot(call.services, call.args["as_of"])
    team = call.args["team"]
    snap.require_team(team)
    start, end = window(call.args, snap.index.now, INVESTMENT_WEEKS)
    weeks = investment_by_team(snap.entities, snap.index, [team], start, end)[team]
    return {"team": team, "from": iso(start), "to": iso(end), "weeks": weeks}


@ROUTES.get(
    "/api/v1/investment",
    "Every team's investment mix over a window: one row per team and category",
    params=(FROM, TO, AS_OF),
    response=InvestmentPage,
)
async def investment(call: Call) -> Any:
    snap = await snapshot(call.services, call.args["as_of"])
    start, end = window(call.args, snap.index.now, INVESTMENT_WEEKS)
    teams = sorted(snap.entities.get("team", {}))
    rows = []
    for team, weeks in investment_by_team(snap.entities, snap.index, teams, start, end).items():
        total = sum(w["effort_fte"] for w in weeks)
        for n, category in enumerate(weeks[-1]["categories"] if weeks else []):
            name = category["category"]
            fte = sum(w["categories"][n]["effort_fte"] for w in weeks)
            share = round(fte / total, 4) if total else None
            goal = category["target_share"]
            rows.append(
                {
                    "team": team,
                    "category": name,
                    "effort_fte_weeks": round(fte, 4),
                    "share": share,
                    "target_share": goal,
                    "gap": round(share - goal, 4)
                    if share is not None and goal is not None
                    else None,
                }
            )
    return {**page_body(rows, None), "from": iso(start), "to": iso(end)}
