"""Team pages: per team and ISO week, where the effort went (by initiative, against the
plan), unplanned share, capacity, support load, WIP against its limit, throughput,
cycle-time percentiles and flow distribution. The weekly rows are the API's
(``projections.resources.team_resources``); cycle times come from the same work index.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from alerts.inputs import planned_fte
from core.events import iso, parse_utc
from hub.api.declare import Call, Routes, integer
from hub.api.declare import path as path_param
from hub.api.errors import ApiError
from hub.api.snapshots import Snapshot
from hub.dashboard.frame import AS_OF_DAY, frame, html
from projections.resources import team_resources
from projections.roadmap import plan_at
from projections.timeline import week_bounds

__all__ = ["ROUTES", "cycle_percentiles", "team_weeks", "effort_chart"]

ROUTES = Routes("dashboard")
PERCENTILES = (50, 70, 85, 95)
DAY = 86400.0


def cycle_percentiles(seconds: list[float]) -> dict[str, float | None]:
    """Nearest-rank percentiles of cycle times, in days."""
    ordered = sorted(seconds)
    out: dict[str, float | None] = {}
    for p in PERCENTILES:
        if not ordered:
            out[f"p{p}"] = None
            continue
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        out[f"p{p}"] = round(ordered[rank - 1] / DAY, 1)
    return out


def _cycle_seconds(view: Mapping[str, Any]) -> float | None:
    if not view["started_at"] or not view["done_at"]:
        return None
    return (parse_utc(view["done_at"]) - parse_utc(view["started_at"])).total_seconds()


def team_weeks(team: str, snap: Snapshot, now: datetime, weeks: int) -> list[dict[str, Any]]:
    """The team's last ``weeks`` ISO weeks (this one included), oldest first: the API's
    resource rows plus planned FTE per initiative and cycle-time percentiles."""
    rows = team_resources(team, snap.entities, snap.index, now - timedelta(weeks=weeks), now)
    items = snap.entities.get("roadmap_item", {})
    done = [
        (v["done_at"], seconds)
        for k, v in snap.index.stable.items()
        if v["team"] == team
        and not snap.index.children.get(k)
        and (seconds := _cycle_seconds(v)) is not None
    ]
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
        row["cycle_days"] = cycle_percentiles([s for at, s in done if iso(start) <= at < iso(end)])
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
        ),
    )
