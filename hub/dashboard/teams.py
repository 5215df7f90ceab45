"""Team pages: per team and ISO week, where the effort went (by initiative, against the
plan), unplanned share, capacity, support load, WIP against its limit, throughput,
cycle-time percentiles and flow distribution; then how it delivers: sprints and planning
accuracy, aging work in progress and the investment mix against its target. Every number
is the API's (``projections.resources``, ``.flow``, ``.sprints``, ``.investment``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts.inputs import planned_fte
from core.events import iso
from hub.api.declare import Call, Routes, integer
from hub.api.declare import path as path_param
from hub.api.errors import ApiError
from hub.api.snapshots import Snapshot
from hub.dashboard.frame import AS_OF_DAY, frame, html
from projections.flow import (
    aging_wip,
    cycle_time_report,
    distribution,
    finished_leaves,
    team_percentiles,
)
from projections.investment import investment_by_team
from projections.resources import team_resources
from projections.roadmap import plan_at
from projections.sprints import sprint_reports
from projections.timeline import week_bounds

__all__ = ["ROUTES", "team_weeks", "effort_chart"]

ROUTES = Routes("dashboard")
SPRINTS_SHOWN = 8
AGING_LISTED = 10


def team_weeks(team: str, snap: Snapshot, now: datetime, weeks: int) -> list[dict[str, Any]]:
    """The team's last ``weeks`` ISO weeks (this one included), oldest first: the API's
    resource rows plus planned FTE per initiative and cycle-time percentiles."""
    rows = team_resources(team, snap.entities, snap.index, now - timedelta(weeks=weeks), now)
    items = snap.entities.get("roadmap_item", {})
    for row in rows:
        start, end = week_bounds(row["week"])
        week_end = min(end, now)
        planned: dict[str, float] = {}
        for key, state in items.items():
            plan = plan_at(state, iso(week_end))
            if not plan or team not in plan.get("teams", []):
                continue
            fte = planned_fte(plan, team, week_end)
            if fte:
                planned[key] = fte
        row["planned_by_initiative_fte"] = planned
        row["planned_fte"] = round(sum(planned.values()), 2)
        done = finished_leaves(snap.index, start, end, team=team)
        row["cycle_days"] = distribution([float(v["cycle_time_seconds"] or 0.0) for v in done])
    return rows


def effort_chart(rows: list[dict[str, Any]], titles: dict[str, str]) -> dict[str, Any]:
    """Stacked bars of effort by initiative (and unplanned) per week, with the planned
    allocation and the capacity as lines over them."""
    weeks = [r["week"] for r in rows]
    initiatives = sorted({k for r in rows for k in r["effort_by_initiative_fte"]})
    series: list[dict[str, Any]] = [
        {
            "name": titles.get(k, k),
            "type": "bar",
            "stack": "effort",
            "data": [round(r["effort_by_initiative_fte"].get(k, 0.0), 2) for r in rows],
        }
        for k in initiatives
    ]
    series.append(
        {
            "name": "Unplanned",
            "type": "bar",
            "stack": "effort",
            "itemStyle": {"color": "#b8bfcc"},
            "data": [round(r["unplanned_fte"], 2) for r in rows],
        }
    )
    series.append(
        {
            "name": "Planned allocation",
            "type": "line",
            "step": "middle",
            "lineStyle": {"type": "dashed", "width": 2, "color": "#1d2330"},
            "itemStyle": {"color": "#1d2330"},
            "data": [r["planned_fte"] for r in rows],
        }
    )
    series.append(
        {
            "name": "Capacity",
            "type": "line",
            "step": "middle",
            "lineStyle": {"width": 2, "color": "#b42318"},
            "itemStyle": {"color": "#b42318"},
            "data": [r["capacity_fte"] for r in rows],
        }
    )
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "top": 0},
        "grid": {"left": 8, "right": 16, "top": 40, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": weeks},
        "yAxis": {"type": "value", "name": "FTE"},
        "series": series,
    }


def _flow_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = sorted({k for r in rows for k in r["flow_distribution"]})
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 16, "top": 40, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [r["week"] for r in rows]},
        "yAxis": {"type": "value", "name": "items done"},
        "series": [
            {
                "name": k,
                "type": "bar",
                "stack": "flow",
                "data": [r["flow_distribution"].get(k, 0) for r in rows],
            }
            for k in kinds
        ],
    }


def _sprint_chart(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Committed against completed points per sprint, planning accuracy as a line."""
    names = [r["name"] or r["key"] for r in reports]
    numbers = [r["numbers"] for r in reports]
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 16, "top": 40, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": names},
        "yAxis": [
            {"type": "value", "name": "points"},
            {"type": "value", "name": "accuracy %", "max": 100, "min": 0},
        ],
        "series": [
            {"name": "Committed", "type": "bar", "data": [n["committed_points"] for n in numbers]},
            {"name": "Completed", "type": "bar", "data": [n["completed_points"] for n in numbers]},
            {
                "name": "Planning accuracy",
                "type": "line",
                "yAxisIndex": 1,
                "data": [
                    None if n["planning_accuracy"] is None else round(100 * n["planning_accuracy"])
                    for n in numbers
                ],
            },
        ],
    }


def _aging_chart(rows: list[dict[str, Any]], yardstick: dict[str, Any]) -> dict[str, Any]:
    """The Kanban aging chart: each item in progress by its status and age, with the
    team's cycle-time percentiles drawn across."""
    statuses = sorted({r["status"] or r["stage"] for r in rows})
    lines = [
        {"name": f"P{p}", "yAxis": yardstick[f"p{p}_days"]}
        for p in (50, 85, 95)
        if yardstick.get(f"p{p}_days") is not None
    ]
    return {
        "animation": False,
        "tooltip": {"trigger": "item"},
        "grid": {"left": 8, "right": 48, "top": 24, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": statuses},
        "yAxis": {"type": "value", "name": "age (days)"},
        "series": [
            {
                "name": "Items in progress",
                "type": "scatter",
                "data": [
                    {"value": [r["status"] or r["stage"], r["age_days"]], "name": r["key"]}
                    for r in rows
                ],
                "markLine": {
                    "symbol": "none",
                    "label": {"formatter": "{b}"},
                    "lineStyle": {"type": "dashed"},
                    "data": lines,
                },
            }
        ],
    }


def _investment_chart(weeks: list[dict[str, Any]]) -> dict[str, Any]:
    """Each category's share of the week's effort, stacked to 100%."""
    names = [c["category"] for c in weeks[-1]["categories"]] if weeks else []
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "top": 0},
        "grid": {"left": 8, "right": 16, "top": 40, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [w["week"] for w in weeks]},
        "yAxis": {"type": "value", "name": "share %", "max": 100},
        "series": [
            {
                "name": name,
                "type": "bar",
                "stack": "mix",
                "data": [round(100 * (w["categories"][n]["share"] or 0.0), 1) for w in weeks],
            }
            for n, name in enumerate(names)
        ],
    }


def _delivery(team: str, snap: Snapshot, now: datetime, weeks: int) -> dict[str, Any]:
    """The delivery sections of a team's page, over the same weeks as its effort."""
    start = now - timedelta(weeks=weeks)
    reports = [
        r for r in sprint_reports(snap.entities, snap.index, now, team=team) if r.get("numbers")
    ][-SPRINTS_SHOWN:]
    yardstick = team_percentiles(snap.index, now).get(team, {})
    aging = aging_wip(snap.index, now, team=team)
    mix = investment_by_team(snap.entities, snap.index, [team], start, now)[team]
    complete = [w for w in mix if w["effort_fte"]]
    return {
        "sprints": list(reversed(reports)),
        "sprint_chart": _sprint_chart(reports) if reports else None,
        "cycle": cycle_time_report(snap.index, start, now, team=team),
        "yardstick": yardstick,
        "aging": aging[:AGING_LISTED],
        "aging_over": sum(1 for r in aging if r["over_p85"]),
        "aging_total": len(aging),
        "aging_chart": _aging_chart(aging, yardstick) if aging else None,
        "mix_chart": _investment_chart(mix) if complete else None,
        "mix_week": complete[-1] if complete else None,
    }


def _teams(snap: Snapshot) -> list[str]:
    defined = snap.entities.get("team", {})
    return sorted(set(defined) | {v["team"] for v in snap.index.stable.values() if v["team"]})


@ROUTES.get("/teams", "Teams", params=(AS_OF_DAY,), page=True, media_type="text/html")
async def teams_page(call: Call) -> Any:
    f = frame(call)
    snap = await f.snapshot()
    now = f.moment or snap.index.now
    cards = []
    for team in _teams(snap):
        rows = team_weeks(team, snap, now, 4)
        current = rows[-1] if rows else None
        cards.append(
            {"team": team, "current": current, "last": rows[-2] if len(rows) > 1 else None}
        )
    return html("teams.html", f.context("teams", "Teams", as_of_control=True, cards=cards))


@ROUTES.get(
    "/teams/{team}",
    "One team, week by week",
    params=(
        path_param("team", "Team id."),
        integer("weeks", 2, 26, 8, "How many ISO weeks to show."),
        AS_OF_DAY,
    ),
    page=True,
    media_type="text/html",
)
async def team_page(call: Call) -> Any:
    f = frame(call)
    team = call.args["team"]
    snap = await f.snapshot()
    if team not in _teams(snap):
        raise ApiError(404, "not_found", f"There is no team {team!r}.")
    now = f.moment or snap.index.now
    rows = team_weeks(team, snap, now, call.args["weeks"])
    titles = {
        k: (plan_at(s) or {}).get("title") or k
        for k, s in snap.entities.get("roadmap_item", {}).items()
    }
    return html(
        "team.html",
        f.context(
            "teams",
            f"Team {team}",
            as_of_control=True,
            team=team,
            rows=list(reversed(rows)),
            titles=titles,
            effort=effort_chart(rows, titles),
            flow=_flow_chart(rows),
            delivery=_delivery(team, snap, now, call.args["weeks"]),
        ),
    )
