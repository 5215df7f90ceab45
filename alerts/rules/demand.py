"""Drift rules: What customers wait for and what support costs the teams."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from alerts.config import DemandAging, SupportOverload
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

__all__ = ["support_overload", "demand_aging"]


@drift_rule("SupportOverload", SupportOverload)
def support_overload(inputs: DriftInputs, settings: SupportOverload) -> Iterable[Observation]:
    open_requests: dict[str, int] = defaultdict(int)
    for request in inputs.entities.get("customer_request", {}).values():
        escalations = request.get("escalations") or []
        if escalations and not request.get("closed_at"):
            open_requests[escalations[-1]["team"]] += 1
    for team, plan in sorted(inputs.teams.items()):
        s = settings.for_team(team)
        capacity = plan.get("capacity_fte") or 0
        if not s.enabled or not capacity:
            continue
        load = open_requests[team] * s.fte_per_open_request
        percent = 100 * load / capacity
        if percent <= s.percent:
            continue
        yield observe(
            s,
            team=team,
            summary=f"{team}: support load {percent:.0f}% of capacity",
            description=(
                f"{open_requests[team]} open escalated requests at {s.fte_per_open_request:g} "
                f"FTE each = {load:.1f} FTE of {capacity:g} FTE capacity ({percent:.0f}%, "
                f"threshold {s.percent:g}%)."
            ),
            value=round(percent, 1),
            links=team_links(inputs, team),
        )


@drift_rule("DemandAging", DemandAging)
def demand_aging(inputs: DriftInputs, settings: DemandAging) -> Iterable[Observation]:
    requests = inputs.entities.get("customer_request", {}).values()
    accounts = inputs.entities.get("customer_account", {})
    for key, view, team in open_items(inputs):
        s = settings.for_team(team)
        if not s.enabled or view["started_at"]:
            continue
        members = set(view["work_items"])
        linked = [
            r
            for r in requests
            if not r.get("closed_at")
            and r.get("opened_at")
            and (
                key in inputs.request_links.get(r["key"], ((), ()))[0]
                or members.intersection(inputs.request_links.get(r["key"], ((), ()))[1])
            )
        ]
        if not linked:
            continue
        critical = [r for r in linked if (r.get("priority") or "").lower() in s.critical_priorities]
        account_keys = {str(r["account"]) for r in linked if r.get("account")}
        arr = sum(float((accounts.get(a) or {}).get("arr") or 0) for a in account_keys)
        if not critical and (arr < s.min_arr or not s.min_arr):
            continue
        oldest = min(r["opened_at"] for r in (critical or linked))
        age = (inputs.now - parse_utc(oldest)).total_seconds() / 86400
        if age <= s.days:
            continue
        yield observe(
            s,
            team=team,
            roadmap_item=key,
            summary=f"{view['title'] or key}: customer demand waiting {age:.0f} days, not started",
            description=(
                f"{len(linked)} open customer requests ({len(critical)} critical) from accounts "
                f"worth {arr:,.0f} ARR; the oldest opened {oldest[:10]}, {age:.0f} days ago "
                f"(threshold {s.days:g}); no linked work has started."
            ),
            value=round(age, 1),
            links=item_links(inputs, key),
        )
