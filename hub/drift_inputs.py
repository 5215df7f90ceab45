"""Reading the projections into what the drift rules judge (``alerts.inputs``).

The one place where folded state meets the rules: the rules stay pure functions of plain
data, and this module is the shell's bridge between ``projections`` and ``alerts``. How
many weeks it reads follows the rules' own settings, team overrides included.

The inputs come in two halves of about equal cost that read the same snapshot and
nothing of each other: ``effort_inputs`` (the allocation: team weeks, investment) and
``delivery_inputs`` (roadmap items, sprints, throughput, links, cycle times). The
alerting service, the dashboard and the digest preview compute them side by side in two
forks, on two cores; ``drift_inputs`` computes both here, one after the other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from alerts.config import AlertingConfig
from alerts.inputs import DriftInputs
from core.events import iso, parse_utc
from hub.forked import run_forked_beside
from projections.customers import current_links
from projections.flow import team_percentiles
from projections.investment import investment_by_team
from projections.resources import (
    ledger,
    roadmap_owner,
    team_resources,
    weekly_allocation,
    weeks_between,
)
from projections.roadmap import plan_at
from projections.rollups import Entities, WorkIndex, roadmap_item_view
from projections.sprints import sprint_reports
from projections.timeline import iso_week, week_bounds

__all__ = [
    "drift_inputs",
    "drift_inputs_forked",
    "effort_inputs",
    "delivery_inputs",
    "assemble",
    "EffortInputs",
    "DeliveryInputs",
]


def _complete_weeks(now: datetime, count: int) -> list[str]:
    this_monday, _ = week_bounds(iso_week(now))
    return [iso_week(this_monday - timedelta(weeks=n)) for n in range(count, 0, -1)]


@dataclass(frozen=True)
class _Scope:
    """What both halves read: the plans in force and the weeks the rules look back over."""

    plans: dict[str, dict[str, Any]]  # roadmap item id -> current plan
    teams: dict[str, dict[str, Any]]  # team -> current definition
    start: datetime  # the first Monday read
    forecast_window: int  # weeks of throughput the forecasts sample


def _scope(entities: Entities, now: datetime, config: AlertingConfig) -> _Scope:
    rules = config.rules
    plans = {
        key: plan
        for key, state in entities.get("roadmap_item", {}).items()
        if not state.get("removed_at") and (plan := plan_at(state))
    }
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
    start = week_bounds(_complete_weeks(now, history)[0])[0]
    if budget_starts:
        start = max(min(start, *budget_starts), now - timedelta(weeks=53))
        start = week_bounds(iso_week(start))[0]
    return _Scope(plans, teams, start, forecast_window)


@dataclass(frozen=True)
class EffortInputs:
    """The half of the inputs that reads the effort allocation: team weeks and the
    investment mix. Most of an evaluation's work; the other half runs beside it."""

    weeks: dict[str, list[dict[str, Any]]]
    current_week: dict[str, dict[str, Any]]
    investment: dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class DeliveryInputs:
    """The other half: roadmap items, sprints, throughput, plans by week, request links,
    cycle times."""

    items: dict[str, dict[str, Any]]
    plans: dict[str, dict[str, Any]]
    teams: dict[str, dict[str, Any]]
    throughput: dict[str, list[int]]
    weekly_plans: dict[str, dict[str, dict[str, Any]]]
    week_ends: dict[str, datetime]
    request_links: dict[str, tuple[list[str], list[str]]]
    cycle_percentiles: dict[str, dict[str, Any]]
    sprints: dict[str, list[dict[str, Any]]]


def effort_inputs(
    entities: Entities, index: WorkIndex, now: datetime, config: AlertingConfig
) -> EffortInputs:
    scope = _scope(entities, now, config)
    start, this_week = scope.start, iso_week(now)
    shares = weekly_allocation(entities, index, start, now)
    owner = roadmap_owner(entities, index)
    weeks: dict[str, list[dict[str, Any]]] = {}
    current: dict[str, dict[str, Any]] = {}
    books = ledger(entities, index, shares, owner)
    for team in scope.teams:
        rows = team_resources(team, entities, index, start, now, books=books)
        weeks[team] = [r for r in rows if r["week"] != this_week]
        current[team] = rows[-1] if rows and rows[-1]["week"] == this_week else {}
    by_team = investment_by_team(
        entities, index, scope.teams, start, now, shares=shares, owner=owner
    )
    investment = {
        team: [row for row in rows if row["week"] != this_week] for team, rows in by_team.items()
    }
    return EffortInputs(weeks, current, investment)


def delivery_inputs(
    entities: Entities, index: WorkIndex, now: datetime, config: AlertingConfig
) -> DeliveryInputs:
    scope = _scope(entities, now, config)
    items = {}
    for key in scope.plans:
        view = roadmap_item_view(key, entities, index)
        if view is not None:
            items[key] = view
    sprints: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for report in sprint_reports(entities, index, now):
        if report["team"]:
            sprints[report["team"]].append(report)
    done_by_week: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for stable in index.stable.values():
        if stable["done_at"] and stable["team"] and not stable["deleted_at"]:
            done_by_week[stable["team"]][iso_week(parse_utc(stable["done_at"]))] += 1
    sample_weeks = _complete_weeks(now, scope.forecast_window)
    throughput = {
        team: [done_by_week[team].get(w, 0) for w in sample_weeks] for team in scope.teams
    }
    # The complete weeks of the team rows (``effort_inputs``), when there are teams.
    week_ends = {
        week: week_bounds(week)[1] - timedelta(microseconds=1)
        for week in (weeks_between(scope.start, now) if scope.teams else [])
        if week != iso_week(now)
    }
    weekly_plans = {
        key: {
            week: plan
            for week, end in week_ends.items()
            if (plan := plan_at(entities["roadmap_item"][key], iso(end)))
        }
        for key in scope.plans
    }
    request_links = {
        str(request["key"]): (
            current_links(request, "roadmap_item"),
            current_links(request, "work_item"),
        )
        for request in entities.get("customer_request", {}).values()
    }
    return DeliveryInputs(
        items,
        scope.plans,
        scope.teams,
        throughput,
        weekly_plans,
        week_ends,
        request_links,
        team_percentiles(index, now),
        dict(sprints),
    )


def assemble(
    entities: Entities,
    index: WorkIndex,
    now: datetime,
    config: AlertingConfig,
    effort: EffortInputs,
    delivery: DeliveryInputs,
) -> DriftInputs:
    """The rules' inputs from their two halves, computed together or side by side."""
    return DriftInputs(
        entities,
        index,
        now,
        (config.external_url or "").rstrip("/"),
        delivery.items,
        delivery.plans,
        delivery.teams,
        effort.weeks,
        delivery.throughput,
        effort.current_week,
        weekly_plans=delivery.weekly_plans,
        week_ends=delivery.week_ends,
        request_links=delivery.request_links,
        cycle_percentiles=delivery.cycle_percentiles,
        sprints=delivery.sprints,
        investment=effort.investment,
    )


def drift_inputs(
    entities: Entities, index: WorkIndex, now: datetime, config: AlertingConfig
) -> DriftInputs:
    """Both halves in this process, one after the other."""
    return assemble(
        entities,
        index,
        now,
        config,
        effort_inputs(entities, index, now, config),
        delivery_inputs(entities, index, now, config),
    )


async def drift_inputs_forked(
    entities: Entities, index: WorkIndex, now: datetime, config: AlertingConfig
) -> DriftInputs:
    """``drift_inputs`` off this interpreter, for pages and previews: the halves in two
    forks side by side (``hub.forked``). At 100k work items they are seconds of pure
    Python, which in a thread held the GIL, and every query waited as long. The main
    fork sends back the aggregates; they are joined here again with the portfolio they
    were read from."""

    def delivery() -> DeliveryInputs:
        return delivery_inputs(entities, index, now, config)

    def work(half: Callable[[], DeliveryInputs]) -> DriftInputs:
        effort = effort_inputs(entities, index, now, config)
        return assemble(entities, index, now, config, effort, half()).aggregates()

    found = await run_forked_beside(delivery, work)
    return replace(found, entities=entities, index=index)
