"""Drift rules: Dates and forecasts: is a roadmap item late, or on course to be?"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from alerts.config import ForecastSlip, PastDue, StartedLate
from alerts.forecast import forecast_weeks
from alerts.inputs import DriftInputs, planned_fte
from alerts.rules.registry import (
    Observation,
    days_between,
    drift_rule,
    item_links,
    observe,
    open_items,
)

__all__ = ["ItemForecast", "forecast_slip", "item_forecast", "past_due", "started_late"]


@dataclass(frozen=True)
class ItemForecast:
    """When an open roadmap item's remaining work is done, by Monte Carlo over throughput."""

    start: date  # today, or the planned start when the item has not started yet
    p50: date | None  # None: never, at the current throughput
    finish: date | None  # at ``percentile``
    percentile: int
    remaining: int
    weekly_throughput: float  # mean of the samples, items a week
    history_weeks: int
    runs: int


def item_forecast(
    inputs: DriftInputs, key: str, view: dict[str, Any], s: ForecastSlip
) -> ItemForecast | None:
    """The forecast for one item with ``s`` (its team's settings); None when there is
    nothing to forecast: no work left, or no finished work to learn from."""
    remaining = view["progress"]["items_total"] - view["progress"]["items_done"]
    if remaining <= 0:
        return None
    samples = [0.0] * s.history_weeks
    for t in view["teams"]:
        weekly = inputs.throughput.get(t, [])[-s.history_weeks :]
        focus = _focus(inputs, key, t)
        for n, done in enumerate(weekly[-len(samples) :]):
            samples[n] += done * focus
    if not any(samples):
        return None
    result = forecast_weeks(
        [round(x, 3) for x in samples],
        remaining,
        runs=s.runs,
        percentile=s.percentile,
        seed=s.seed,
    )
    start = inputs.today
    if view["planned_start"] and not view["started_at"]:
        start = max(start, date.fromisoformat(view["planned_start"]))

    def at(weeks: float) -> date | None:
        return None if math.isinf(weeks) else start + timedelta(weeks=weeks)

    return ItemForecast(
        start=start,
        p50=at(result.p50_weeks),
        finish=at(result.weeks),
        percentile=s.percentile,
        remaining=remaining,
        weekly_throughput=sum(samples) / len(samples),
        history_weeks=s.history_weeks,
        runs=result.runs,
    )


@drift_rule("ForecastSlip", ForecastSlip)
def forecast_slip(inputs: DriftInputs, settings: ForecastSlip) -> Iterable[Observation]:
    """Monte Carlo over the owning teams' weekly throughput, scaled by the share of the
    team planned for this item. A team that finished nothing in the sample window gets no
    forecast (stalled and started-late rules speak for it)."""
    for key, view, team in open_items(inputs):
        s = settings.for_team(team)
        if not s.enabled or not view["target_date"]:
            continue
        forecast = item_forecast(inputs, key, view, s)
        if forecast is None:
            continue  # no finished work to learn from: no forecast, rather than "never"
        target = date.fromisoformat(view["target_date"])
        deadline = target + timedelta(days=s.grace_days)
        if forecast.finish is None:
            finish_text, late_days = "never at the current throughput", math.inf
        else:
            if forecast.finish <= deadline:
                continue
            finish_text, late_days = f"{forecast.finish}", (forecast.finish - target).days
        yield observe(
            s,
            team=team,
            roadmap_item=key,
            summary=f"{view['title'] or key}: forecast P{s.percentile} finish is past its "
            f"target {target}",
            description=(
                f"P{s.percentile} finish {finish_text}"
                + (f", {late_days} days after target {target}" if math.isfinite(late_days) else "")
                + f" (grace {s.grace_days} days). {forecast.remaining} items left; throughput "
                f"{forecast.weekly_throughput:.1f}/week over the last {s.history_weeks} weeks; "
                f"{forecast.runs} runs."
            ),
            value=late_days,
            links=item_links(inputs, key),
        )


def _focus(inputs: DriftInputs, item: str, team: str) -> float:
    """Share of the team's throughput this item may expect: planned FTE over capacity."""
    plan = inputs.plans.get(item) or {}
    planned = planned_fte(plan, team, inputs.now)
    capacity = (inputs.teams.get(team) or {}).get("capacity_fte") or 0
    if planned is None or not capacity:
        return 1.0
    return min(1.0, planned / capacity)


@drift_rule("PastDue", PastDue)
def past_due(inputs: DriftInputs, settings: PastDue) -> Iterable[Observation]:
    for key, view, team in open_items(inputs):
        s = settings.for_team(team)
        if not s.enabled or not view["target_date"]:
            continue
        late = days_between(view["target_date"], inputs.today)
        if late <= 0:
            continue
        progress = view["progress"]
        yield observe(
            s,
            team=team,
            roadmap_item=key,
            summary=f"{view['title'] or key}: {late} days past its target date",
            description=(
                f"Target {view['target_date']} passed {late} days ago; stage {view['stage']}, "
                f"{progress['items_done']} of {progress['items_total']} items done."
            ),
            value=late,
            links=item_links(inputs, key),
        )


@drift_rule("StartedLate", StartedLate)
def started_late(inputs: DriftInputs, settings: StartedLate) -> Iterable[Observation]:
    for key, view, team in open_items(inputs):
        s = settings.for_team(team)
        if not s.enabled or not view["planned_start"] or view["started_at"]:
            continue
        late = days_between(view["planned_start"], inputs.today)
        if late <= s.grace_days:
            continue
        yield observe(
            s,
            team=team,
            roadmap_item=key,
            summary=f"{view['title'] or key}: not started, planned {late} days ago",
            description=(
                f"Planned start {view['planned_start']} passed {late} days ago (grace "
                f"{s.grace_days}); none of its {view['progress']['items_total']} linked work "
                "items has started."
            ),
            value=late,
            links=item_links(inputs, key),
        )
