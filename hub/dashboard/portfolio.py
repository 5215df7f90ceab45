"""Portfolio and item pages: every roadmap item on a timeline, and one item in depth.

The timeline shows, per item, the plan (planned start → target) against what happened
(actual start → today) and the forecast (P50 and P85 finish, from the same Monte Carlo
the ForecastSlip rule runs). The health mark comes from the item's alerts as they stood
at the page's moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from alerts.config import ForecastSlip
from alerts.engine import FIRING, PENDING, RECOVERING
from alerts.inputs import DriftInputs
from alerts.rules.schedule import item_forecast
from core.events import iso
from core.stages import ROADMAP_STAGES
from hub.api.declare import Call, Routes, choice, text
from hub.api.declare import path as path_param
from hub.api.errors import ApiError
from hub.api.snapshots import Snapshot
from hub.api.themes import themed_demand
from hub.dashboard.frame import AS_OF_DAY, frame, html, inputs_for
from projections.roadmap import plan_at
from projections.rollups import request_view, roadmap_item_view

__all__ = ["ROUTES", "alerts_at", "health_of", "portfolio_rows", "timeline_chart"]

ROUTES = Routes("dashboard")
PRIORITIES = ("highest", "high", "medium", "low", "lowest")
SEVERITY_RANK = {"critical": 3, "warning": 2, "info": 1}


def alerts_at(alerts: dict[str, dict[str, Any]], moment: datetime | None) -> list[dict[str, Any]]:
    """Each alert with the state it had at ``moment`` (now: its current state), from its
    history; alerts that did not exist yet are left out."""
    if moment is None:
        return list(alerts.values())
    at = iso(moment)
    then = []
    for alert in alerts.values():
        past = [h for h in alert.get("history", []) if h["at"] <= at]
        if past:
            then.append({**alert, "state": past[-1]["state"], "value": past[-1]["value"]})
    return then


def health_of(item: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """The item's mark: 'at risk' with a critical alert firing, 'watch' with any other
    alert firing or pending, else 'on track'; with the alerts that decided it."""
    mine = [
        a
        for a in alerts
        if a["labels"].get("roadmap_item") == item and a["state"] in (PENDING, FIRING, RECOVERING)
    ]
    firing = [a for a in mine if a["state"] in (FIRING, RECOVERING)]
    worst = max((SEVERITY_RANK.get(a["labels"].get("severity", ""), 0) for a in firing), default=0)
    mark = "at-risk" if worst >= 3 else "watch" if mine else "on-track"
    label = {"at-risk": "At risk", "watch": "Watch", "on-track": "On track"}[mark]
    names = sorted({a["labels"].get("alertname", "") for a in mine})
    return {"mark": mark, "label": label, "alerts": names}


def _forecast(inputs: DriftInputs, key: str, view: dict[str, Any], rules: Any) -> dict[str, Any]:
    settings: ForecastSlip = rules.forecast_slip.for_team(
        view["teams"][0] if view["teams"] else None
    )
    result = item_forecast(inputs, key, view, settings)
    if result is None:
        return {"p50": None, "p85": None, "percentile": settings.percentile, "never": False}
    return {
        "p50": result.p50.isoformat() if result.p50 else None,
        "p85": result.finish.isoformat() if result.finish else None,
        "percentile": result.percentile,
        "never": result.finish is None,
        "weekly_throughput": round(result.weekly_throughput, 2),
    }


def portfolio_rows(
    snap: Snapshot,
    inputs: DriftInputs,
    alerts: list[dict[str, Any]],
    rules: Any,
    *,
    team: str | None = None,
    stage: str | None = None,
    priority: str | None = None,
    themed: Mapping[str, set[str]] | None = None,
) -> list[dict[str, Any]]:
    """One row per roadmap item on the plan at the snapshot's moment, filtered; demand
    includes the requests of the feedback themes linked to each (``themed``)."""
    plan_as_of = iso(snap.as_of) if snap.as_of else None
    rows = []
    for key, state in snap.entities.get("roadmap_item", {}).items():
        if state.get("removed_at") and (plan_as_of is None or state["removed_at"] <= plan_as_of):
            continue
        view = roadmap_item_view(
            key, snap.entities, snap.index, plan_as_of=plan_as_of, themed=themed
        )
        if view is None:
            continue
        if team and team not in view["teams"]:
            continue
        if stage and view["stage"] != stage:
            continue
        if priority and (view["priority"] or "").lower() != priority:
            continue
        done = view["stage"] in ("done", "cancelled")
        rows.append(
            {
                **{k: v for k, v in view.items() if k != "work_items"},
                "forecast": _forecast(inputs, key, view, rules) if not done else None,
                "health": health_of(key, alerts),
            }
        )
    rows.sort(key=lambda r: (r["target_date"] or "9999", r["id"]))
    return rows


def timeline_chart(rows: list[dict[str, Any]], today: date) -> dict[str, Any]:
    """An ECharts option: per item, the plan, what happened, and the forecast, as line
    segments on a time axis (a gap between items breaks each line)."""
    names = [r["title"] or r["id"] for r in rows]
    plan: list[Any] = []
    actual: list[Any] = []
    forecast: list[Any] = []
    targets: list[Any] = []
    for name, r in zip(names, rows, strict=True):
        if r["planned_start"] and r["target_date"]:
            plan += [[r["planned_start"], name], [r["target_date"], name], "-"]
        if r["target_date"]:
            targets.append([r["target_date"], name])
        if r["started_at"]:
            end = (r["finished_at"] or today.isoformat())[:10]
            actual += [[r["started_at"][:10], name], [end, name], "-"]
        fc = r["forecast"] or {}
        if fc.get("p50") and fc.get("p85"):
            forecast += [[fc["p50"], name], [fc["p85"], name], "-"]

    def line(label: str, data: list[Any], color: str, width: int) -> dict[str, Any]:
        return {
            "name": label,
            "type": "line",
            "data": data,
            "symbol": "none",
            "connectNulls": False,
            "lineStyle": {"width": width, "color": color, "cap": "round"},
            "itemStyle": {"color": color},
        }

    return {
        "animation": False,
        "grid": {"left": 8, "right": 24, "top": 36, "bottom": 24, "containLabel": True},
        "legend": {"top": 0},
        "tooltip": {"trigger": "item"},
        "xAxis": {"type": "time"},
        "yAxis": {"type": "category", "data": names, "inverse": True},
        "series": [
            line("Plan: start → target", plan, "#8f9bb3", 10),
            line("Actual: start → finish or today", actual, "#1f6feb", 5),
            line("Forecast P50 → P85", forecast, "#d4731c", 5),
            {
                "name": "Target",
                "type": "scatter",
                "data": targets,
                "symbol": "diamond",
                "symbolSize": 12,
                "itemStyle": {"color": "#3b3f4a"},
            },
            {
                "name": "Today",
                "type": "line",
                "data": [],
                "markLine": {
                    "symbol": "none",
                    "label": {"formatter": "today"},
                    "lineStyle": {"color": "#b42318", "type": "dashed"},
                    "data": [{"xAxis": today.isoformat()}],
                },
            },
        ],
    }


def _teams(snap: Snapshot) -> list[str]:
    return sorted(snap.entities.get("team", {}))


@ROUTES.get(
    "/",
    "Portfolio",
    params=(
        text("team"),
        choice("stage", ROADMAP_STAGES),
        choice("priority", PRIORITIES),
        AS_OF_DAY,
    ),
    page=True,
    media_type="text/html",
)
async def portfolio(call: Call) -> Any:
    f = frame(call)
    snap = await f.snapshot()
    inputs = await inputs_for(f, snap)
    alerts = alerts_at(f.services.alerting.store.alerts, f.moment)
    filters = {k: call.args[k] for k in ("team", "stage", "priority")}
    themed = await themed_demand(call, snap)
    rows = portfolio_rows(
        snap, inputs, alerts, f.services.alerting.config.rules, **filters, themed=themed
    )
    today = (f.moment or snap.index.now).date()
    return html(
        "portfolio.html",
        f.context(
            "portfolio",
            "Portfolio",
            as_of_control=True,
            rows=rows,
            timeline=timeline_chart(rows, today),
            filters=filters,
            teams=_teams(snap),
            stages=ROADMAP_STAGES,
            priorities=PRIORITIES,
        ),
    )


@ROUTES.get(
    "/items/{item_id}",
    "One roadmap item",
    params=(path_param("item_id", "Roadmap item id."), AS_OF_DAY),
    page=True,
    media_type="text/html",
)
async def item_page(call: Call) -> Any:
    f = frame(call)
    item_id = call.args["item_id"]
    snap = await f.snapshot()
    plan_as_of = iso(snap.as_of) if snap.as_of else None
    themed = await themed_demand(call, snap)
    view = roadmap_item_view(
        item_id, snap.entities, snap.index, plan_as_of=plan_as_of, themed=themed
    )
    if view is None:
        raise ApiError(404, "not_found", f"There is no roadmap item {item_id!r}.")
    inputs = await inputs_for(f, snap)
    alerts = alerts_at(f.services.alerting.store.alerts, f.moment)
    mine = sorted(
        (a for a in alerts if a["labels"].get("roadmap_item") == item_id),
        key=lambda a: a.get("updated_at") or "",
        reverse=True,
    )
    work = [snap.index.stable[k] for k in view["work_items"] if k in snap.index.stable]
    members = set(view["work_items"])
    requests = [
        r
        for r in (
            request_view(s, snap.entities, snap.index)
            for s in snap.entities.get("customer_request", {}).values()
        )
        if item_id in r["roadmap_items"] or members.intersection(r["work_items"])
    ]
    requests.sort(key=lambda r: (-(r["arr"] or 0), r["key"]))
    state = snap.entities["roadmap_item"][item_id]
    versions = [v for v in state["versions"] if plan_as_of is None or v["at"] <= plan_as_of]
    plan = plan_at(state, plan_as_of) or {}
    done = view["stage"] in ("done", "cancelled")
    forecast = None if done else _forecast(inputs, item_id, view, f.services.alerting.config.rules)
    row = {**view, "forecast": forecast, "health": health_of(item_id, alerts)}
    today = (f.moment or snap.index.now).date()
    return html(
        "item.html",
        f.context(
            "portfolio",
            view["title"] or item_id,
            as_of_control=True,
            item=row,
            plan=plan,
            timeline=timeline_chart([row], today),
            work=sorted(work, key=lambda w: (w["stage"] or "", w["key"])),
            requests=requests,
            alerts=mine,
            versions=list(reversed(versions)),
        ),
    )
