"""Drift rules: how teams deliver: aging work, sprints overcommitted, investment off target."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from urllib.parse import quote

from alerts.config import AgingWip, InvestmentDrift, SprintOvercommit
from alerts.inputs import DriftInputs
from alerts.rules.registry import Observation, drift_rule, observe, team_links
from core.events import parse_utc
from core.stages import ACTIVE_WORK_STAGES

__all__ = ["aging_wip", "sprint_overcommit", "investment_drift"]

SHOWN = 5  # items named in an alert's description; the API lists them all
DAY = 86_400.0


@drift_rule("AgingWip", AgingWip)
def aging_wip(inputs: DriftInputs, settings: AgingWip) -> Iterable[Observation]:
    """One alert per team: its items in progress for longer than the team's percentile."""
    old: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for key, view in inputs.index.stable.items():
        team = view["team"]
        if not team or view["stage"] not in ACTIVE_WORK_STAGES or not view["started_at"]:
            continue
        if inputs.index.children.get(key):  # an epic ages with its children, not on its own
            continue
        s = settings.for_team(team)
        yardstick = inputs.cycle_percentiles.get(team) or {}
        limit = yardstick.get(f"p{s.percentile}_days")
        if not s.enabled or limit is None or yardstick.get("count", 0) < s.min_history:
            continue
        age = (inputs.now - parse_utc(view["started_at"])).total_seconds() / DAY
        if age > limit:
            old[team].append((age, key))
    for team, items in sorted(old.items()):
        s = settings.for_team(team)
        limit = inputs.cycle_percentiles[team][f"p{s.percentile}_days"]
        items.sort(key=lambda pair: (-pair[0], pair[1]))
        named = ", ".join(f"{key} ({age:.0f} d)" for age, key in items[:SHOWN])
        more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
        yield observe(
            s,
            team=team,
            summary=f"{team}: {len(items)} items in progress longer than P{s.percentile}",
            description=(
                f"In progress for more than {limit:g} days, the team's P{s.percentile} cycle "
                f"time of the last 12 weeks: {named}{more}."
            ),
            value=len(items),
            links={"hub_url": f"{inputs.external_url}/api/v1/flow/aging-wip?team={quote(team)}"},
        )


@drift_rule("SprintOvercommit", SprintOvercommit)
def sprint_overcommit(inputs: DriftInputs, settings: SprintOvercommit) -> Iterable[Observation]:
    for team, reports in sorted(inputs.sprints.items()):
        s = settings.for_team(team)
        closed = [
            r
            for r in reports
            if r["state"] == "closed"
            and r.get("numbers")
            and r["numbers"]["planning_accuracy"] is not None
        ]
        recent = closed[-s.sprints :]
        if not s.enabled or len(recent) < s.sprints:
            continue
        accuracies = [r["numbers"]["planning_accuracy"] for r in recent]
        if any(a >= s.threshold for a in accuracies):
            continue
        listed = ", ".join(
            f"{r['name'] or r['key']} {a:.0%}" for r, a in zip(recent, accuracies, strict=True)
        )
        mean = sum(accuracies) / len(accuracies)
        yield observe(
            s,
            team=team,
            summary=f"{team}: planning accuracy below {s.threshold:.0%} for {s.sprints} sprints",
            description=(
                f"Completed committed work over committed work: {listed} "
                f"(threshold {s.threshold:.0%})."
            ),
            value=round(mean, 4),
            links={
                "hub_url": f"{inputs.external_url}/api/v1/teams/{quote(team, safe='')}/velocity"
            },
        )


@drift_rule("InvestmentDrift", InvestmentDrift)
def investment_drift(inputs: DriftInputs, settings: InvestmentDrift) -> Iterable[Observation]:
    """Per team and category with a target: off by more than the tolerance every week."""
    for team, weeks in sorted(inputs.investment.items()):
        s = settings.for_team(team)
        recent = weeks[-s.weeks :]
        if not s.enabled or len(recent) < s.weeks:
            continue
        names = [c["category"] for c in recent[-1]["categories"] if c["target_share"] is not None]
        for name in names:
            rows = [
                next((c for c in w["categories"] if c["category"] == name), None) for w in recent
            ]
            gaps = [r["gap"] for r in rows if r is not None and r["gap"] is not None]
            if len(gaps) < s.weeks:
                continue  # a week with no effort, or no target then, breaks the streak
            if not (all(g > s.tolerance for g in gaps) or all(g < -s.tolerance for g in gaps)):
                continue
            target = rows[-1]["target_share"]  # type: ignore[index]
            shares = ", ".join(f"{r['share']:.0%}" for r in rows if r is not None)
            direction = "above" if gaps[-1] > 0 else "below"
            yield observe(
                s,
                team=team,
                category=name,
                summary=f"{team}: {name} {direction} its {target:.0%} target for {s.weeks} weeks",
                description=(
                    f"{name}'s share of {team}'s effort, week by week: {shares}; target "
                    f"{target:.0%}, tolerance {s.tolerance:.0%}."
                ),
                value=gaps[-1],
                links=team_links(inputs, team),
            )
