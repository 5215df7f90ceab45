"""Drift rules: Where effort goes against the plan: allocation, unplanned work, budget."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from alerts.config import AllocationDrift, OverBudget, UnplannedWork
from alerts.inputs import DriftInputs, planned_fte
from alerts.rules.registry import (
    Observation,
    days_between,
    drift_rule,
    item_links,
    observe,
    primary_team,
    team_links,
)
from core.stages import OPEN_ROADMAP_STAGES

__all__ = ["allocation_drift", "unplanned_work", "over_budget"]


@drift_rule("AllocationDrift", AllocationDrift)
def allocation_drift(inputs: DriftInputs, settings: AllocationDrift) -> Iterable[Observation]:
    for team, rows in sorted(inputs.weeks.items()):
        s = settings.for_team(team)
        if not s.enabled or len(rows) < s.weeks:
            continue
        recent = rows[-s.weeks :]
        for key, plan in sorted(inputs.plans.items()):
            if team not in (plan.get("teams") or ()):
                continue
            gaps = []
            for row in recent:
                moment = inputs.week_ends[row["week"]]
                week_plan = inputs.weekly_plans.get(key, {}).get(row["week"]) or {}
                planned = planned_fte(week_plan, team, moment)
                capacity = row["capacity_fte"] or row["effort_fte"]
                if planned is None or not capacity:
                    break
                actual = row["effort_by_initiative_fte"].get(key, 0.0)
                gaps.append((100 * actual / capacity, 100 * planned / capacity))
            if len(gaps) < s.weeks or not all(abs(a - p) > s.points for a, p in gaps):
                continue
            actual, planned = gaps[-1]
            title = inputs.items.get(key, {}).get("title") or key
            yield observe(
                s,
                team=team,
                roadmap_item=key,
                summary=f"{team} on {title}: {actual:.0f}% of capacity, planned {planned:.0f}%",
                description=(
                    f"Actual share of {team}'s capacity on {title} differs from the plan by "
                    f"more than {s.points:g} points for {s.weeks} weeks: "
                    + ", ".join(
                        f"{r['week']} {a:.0f}% vs {p:.0f}%"
                        for r, (a, p) in zip(recent, gaps, strict=True)
                    )
                    + "."
                ),
                value=round(actual - planned, 1),
                links=item_links(inputs, key),
            )


@drift_rule("UnplannedWork", UnplannedWork)
def unplanned_work(inputs: DriftInputs, settings: UnplannedWork) -> Iterable[Observation]:
    for team, rows in sorted(inputs.weeks.items()):
        s = settings.for_team(team)
        recent = rows[-s.weeks :]
        if not s.enabled or len(recent) < s.weeks:
            continue
        shares = [r["unplanned_share"] for r in recent]
        if any(x is None or 100 * x <= s.percent for x in shares):
            continue
        yield observe(
            s,
            team=team,
            summary=f"{team}: {100 * shares[-1]:.0f}% of effort on unplanned work",
            description=(
                f"Unplanned work above {s.percent:g}% of {team}'s effort for {s.weeks} weeks: "
                + ", ".join(
                    f"{r['week']} {100 * x:.0f}%" for r, x in zip(recent, shares, strict=True)
                )
                + f"; roadmap focus {100 * (1 - shares[-1]):.0f}%."
            ),
            value=round(100 * shares[-1], 1),
            links=team_links(inputs, team),
        )


@drift_rule("OverBudget", OverBudget)
def over_budget(inputs: DriftInputs, settings: OverBudget) -> Iterable[Observation]:
    spend: dict[str, float] = defaultdict(float)
    recent: dict[str, float] = defaultdict(float)
    for rows in inputs.weeks.values():
        for n, row in enumerate(reversed(rows)):
            for item, amount in (row.get("spend_by_initiative") or {}).items():
                spend[item] += amount
                if n < 4:
                    recent[item] += amount / 4
    for row in inputs.current_week.values():
        for item, amount in (row.get("spend_by_initiative") or {}).items():
            spend[item] += amount
    for key, plan in sorted(inputs.plans.items()):
        view = inputs.items.get(key) or {}
        team = primary_team(view)
        s = settings.for_team(team)
        budget = plan.get("budget")
        if not s.enabled or budget is None or view.get("stage") not in OPEN_ROADMAP_STAGES:
            continue
        spent = spend.get(key, 0.0)
        projected = spent
        if plan.get("target_date"):
            weeks_left = max(
                0.0, days_between(inputs.today, date.fromisoformat(plan["target_date"])) / 7
            )
            projected += recent.get(key, 0.0) * weeks_left
        if spent > budget:
            text, over = f"spent {spent:,.0f} of a {budget:,.0f} budget", spent - budget
        elif projected > budget:
            over = projected - budget
            text = (
                f"on course to spend {projected:,.0f} of a {budget:,.0f} budget by "
                f"{plan['target_date']} (spent {spent:,.0f}, burning {recent[key]:,.0f}/week)"
            )
        else:
            continue
        yield observe(
            s,
            team=team,
            roadmap_item=key,
            summary=f"{view.get('title') or key}: {text.split(' (')[0]}",
            description=f"{view.get('title') or key} has {text}; spend is effort FTE x team cost "
            "rate, from the resource projection.",
            value=round(over, 2),
            links=item_links(inputs, key),
        )
