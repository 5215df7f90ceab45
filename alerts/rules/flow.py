"""Drift rules: How work moves: scope growth, stalled items, work in progress."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from alerts.config import ScopeCreep, Stalled, WipOverLimit
from alerts.inputs import DriftInputs
from alerts.rules.registry import (
    Observation,
    drift_rule,
    item_links,
    observe,
    open_items,
    team_links,
)
from core.events import parse_utc
from core.stages import ACTIVE_WORK_STAGES

__all__ = ["scope_creep", "stalled", "wip_over_limit"]


@drift_rule("ScopeCreep", ScopeCreep)
def scope_creep(inputs: DriftInputs, settings: ScopeCreep) -> Iterable[Observation]:
    for key, view, team in open_items(inputs):
        s = settings.for_team(team)
        growth = view["scope"].get("growth_pct")
        if not s.enabled or growth is None or growth <= s.percent:
            continue
        scope = view["scope"]
        yield observe(
            s,
            team=team,
            roadmap_item=key,
            summary=f"{view['title'] or key}: scope grew {growth:g}% since commitment",
            description=(
                f"Committed {scope['committed_at'][:10]} with {scope['committed_items']} items; "
                f"{scope['items_added']} added and {scope['items_removed']} removed since "
                f"(+{growth:g}%, threshold {s.percent:g}%)."
            ),
            value=growth,
            links=item_links(inputs, key),
        )


@drift_rule("Stalled", Stalled)
def stalled(inputs: DriftInputs, settings: Stalled) -> Iterable[Observation]:
    for key, view, team in open_items(inputs):
        s = settings.for_team(team)
        plan = inputs.plans.get(key) or {}
        if not s.enabled or view["stage"] != "in_progress" or not plan.get("committed_at"):
            continue
        last = view["last_activity_at"]
        if not last:
            continue
        idle = (inputs.now - parse_utc(last)).total_seconds() / 86400
        if idle <= s.days:
            continue
        yield observe(
            s,
            team=team,
            roadmap_item=key,
            summary=f"{view['title'] or key}: no activity for {idle:.0f} days",
            description=(
                f"Committed and in progress, but no linked work item changed since {last[:10]} "
                f"({idle:.1f} days; threshold {s.days:g})."
            ),
            value=round(idle, 1),
            links=item_links(inputs, key),
        )


@drift_rule("WipOverLimit", WipOverLimit)
def wip_over_limit(inputs: DriftInputs, settings: WipOverLimit) -> Iterable[Observation]:
    active: dict[str, int] = defaultdict(int)
    for key, view in inputs.index.stable.items():
        # Leaves only, as in the resource projection: an epic's work is in its children.
        if (
            view["team"]
            and view["stage"] in ACTIVE_WORK_STAGES
            and not inputs.index.children.get(key)
        ):
            active[view["team"]] += 1
    for team, plan in sorted(inputs.teams.items()):
        s = settings.for_team(team)
        limit = plan.get("wip_limit")
        if not s.enabled or limit is None or active[team] <= limit:
            continue
        yield observe(
            s,
            team=team,
            summary=f"{team}: {active[team]} items in progress, limit {limit}",
            description=(
                f"{team} has {active[team]} work items in progress or blocked against a WIP "
                f"limit of {limit}."
            ),
            value=active[team],
            links=team_links(inputs, team),
        )
