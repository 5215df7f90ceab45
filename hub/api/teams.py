"""``/api/v1/teams``: teams, and where each team's effort goes week by week."""

from __future__ import annotations

from typing import Any

from core.stages import ACTIVE_WORK_STAGES
from hub.api.declare import Call, Routes, time, window
from hub.api.declare import path as path_param
from hub.api.schemas import TeamPage, TeamResources
from hub.api.snapshots import snapshot
from projections.resources import team_resources
from projections.roadmap import plan_at

__all__ = ["ROUTES", "DEFAULT_WEEKS"]

ROUTES = Routes("teams")
DEFAULT_WEEKS = 4


@ROUTES.get("/api/v1/teams", "Teams", response=TeamPage)
async def teams(call: Call) -> Any:
    snap = await snapshot(call.services, None)
    defined = snap.entities.get("team", {})
    names = set(defined) | {v["team"] for v in snap.index.stable.values() if v["team"]}
    rows: list[dict[str, Any]] = []
    for name in sorted(names):
        plan = plan_at(defined[name]) if name in defined else None
        active = [
            v
            for k, v in snap.index.stable.items()
            if v["team"] == name
            and v["stage"] in ACTIVE_WORK_STAGES
            and not snap.index.children.get(k)  # an epic's work is counted in its children
        ]
        rows.append(
            {
                "team": name,
                "name": plan.get("name") if plan else name,
                "defined": plan is not None,
                "capacity_fte": plan.get("capacity_fte") if plan else None,
                "wip": len(active),
                "wip_limit": plan.get("wip_limit") if plan else None,
                "timezone": plan.get("timezone") if plan else None,
            }
        )
    return {"items": rows, "next_cursor": None}


@ROUTES.get(
    "/api/v1/teams/{team}/resources",
    "A team's resources per ISO week",
    params=(
        path_param("team", "Team id."),
        time("from", "Default: 4 weeks before to."),
        time("to", "Default: now."),
    ),
    response=TeamResources,
)
async def resources(call: Call) -> Any:
    team = call.args["team"]
    snap = await snapshot(call.services, None)
    start, end = window(call.args, snap.index.now, DEFAULT_WEEKS, up_to_now=False)
    snap.require_team(team)
    weeks = team_resources(team, snap.entities, snap.index, start, end)
    return {"team": team, "from": start.isoformat(), "to": end.isoformat(), "weeks": weeks}
