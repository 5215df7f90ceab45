"""Reading the projections into what the drift rules judge (``alerts.inputs``).

The one place where folded state meets the rules: the rules stay pure functions of plain
data, and this module is the shell's bridge between ``projections`` and ``alerts``. How
many weeks it reads follows the rules' own settings, team overrides included.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from alerts.config import AlertingConfig
from alerts.inputs import DriftInputs
from core.events import iso, parse_utc
from projections.customers import current_links
from projections.flow import team_percentiles
from projections.investment import investment_by_team
from projections.resources import ledger, roadmap_owner, team_resources, weekly_allocation
from projections.roadmap import plan_at
from projections.rollups import Entities, WorkIndex, roadmap_item_view
from projections.sprints import sprint_reports
from projections.timeline import iso_week, week_bounds

__all__ = ["drift_inputs"]


def _complete_weeks(now: datetime, count: int) -> list[str]:
    this_monday, _ = week_bounds(iso_week(now))
    return [iso_week(this_monday - timedelta(weeks=n)) for n in range(count, 0, -1)]


def drift_inputs(
    entities: Entities, index: WorkIndex, now: datetime, config: AlertingConfig
) -> DriftInputs:
    rules = config.rules
    plans = {
        key: plan
        for key, state in entities.get("roadmap_item", {}).items()
        if not state.get("removed_at") and (plan := plan_at(state))
    }
    items = {}
    for key in plans:
        view = roadmap_item_view(key, entities, index)
        if view is not None:
            items[key] = view
    teams = {
        key: plan for key, state in entities.get("team", {}).items() if (plan := plan_at(state))
    }
    # The window must cover the longest any team's settings ask for, overrides included.
    scopes = [None, *teams]
    forecast_window = max(rules.forecast_slip.for_team(t).history_weeks for t in scopes)
    history = max(
        4,
        forecast_window,
        *(rules.allocation_drift.for_team(t).weeks for t in scopes),
        *(rules.unplanned_work.for_team(t).weeks for t in scopes),
        *(rules.investment_drift.for_team(t).weeks for t in scopes),
    )
    budget_starts = [
        datetime.fromisoformat(p["planned_start"]).replace(tzinfo=now.tzinfo)
        for p in plans.values()
        if p.get("budget") is not None and p.get("planned_start")
    ]
    complete = _complete_weeks(now, history)
    start = week_bounds(complete[0])[0]
    if budget_starts:
        start = max(min(start, *budget_starts), now - timedelta(weeks=53))
        start = week_bounds(iso_week(start))[0]
    shares = weekly_allocation(entities, index, start, now)
    owner = roadmap_owner(entities, index)
    weeks: dict[str, list[dict[str, Any]]] = {}
    current: dict[str, dict[str, Any]] = {}
    books = ledger(entities, index, shares, owner)
    for team in teams:
        rows = team_resources(team, entities, index, start, now, books=books)
        weeks[team] = [r for r in rows if r["week"] != iso_week(now)]
        current[team] = rows[-1] if rows and rows[-1]["week"] == iso_week(now) else {}
    by_team = investment_by_team(entities, index, teams, start, now, shares=shares, owner=owner)
    investment = {
        team: [row for row in rows if row["week"] != iso_week(now)]
        for team, rows in by_team.items()
    }
    sprints: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for report in sprint_reports(entities, index, now):
        if report["team"]:
            sprints[report["team"]].append(report)
    done_by_week: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for stable in index.stable.values():
        if stable["done_at"] and stable["team"] and not stable["deleted_at"]:
            done_by_week[stable["team"]][iso_week(parse_utc(stable["done_at"]))] += 1
    sample_weeks = _complete_weeks(now, forecast_window)
    throughput = {team: [done_by_week[team].get(w, 0) for w in sample_weeks] for team in teams}
    week_ends = {
        row["week"]: week_bounds(row["week"])[1] - timedelta(microseconds=1)
        for rows in weeks.values()
        for row in rows
    }
    weekly_plans = {
        key: {
            week: plan
            for week, end in week_ends.items()
            if (plan := plan_at(entities["roadmap_item"][key], iso(end)))
        }
        for key in plans
    }
    request_links = {
        str(request["key"]): (
            current_links(request, "roadmap_item"),
            current_links(request, "work_item"),
        )
        for request in entities.get("customer_request", {}).values()
    }
    base = (config.external_url or "").rstrip("/")
    return DriftInputs(
        entities,
        index,
        now,
        base,
        items,
        plans,
        teams,
        weeks,
        throughput,
        current,
        weekly_plans=weekly_plans,
        week_ends=week_ends,
        request_links=request_links,
        cycle_percentiles=team_percentiles(index, now),
        sprints=dict(sprints),
        investment=investment,
    )


# --- helpers ----------------------------------------------------------------------
