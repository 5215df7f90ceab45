"""Investment balance: where each team's effort goes by category of work, against its target.

Categories are mutually exclusive and cover all work: the policy's rules are tried in
order on an item's ancestors from the top down, so the first ancestor (or the item
itself) a rule matches decides, and a child always inherits its parent's category; work
no rule matches falls to the default. Effort is the resource projection's allocation
(``projections.resources``): person-days split across the items in progress, five to an
FTE-week. Targets are per team (``investment_target`` in ``roadmap.yaml``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from core.events import InvestmentCategory, InvestmentPolicy, iso
from projections.jql import compile_jql
from projections.resources import (
    Allocation,
    roadmap_owner,
    weekly_allocation,
    weekly_effort,
    weeks_between,
)
from projections.roadmap import plan_at
from projections.rollups import Entities, WorkIndex
from projections.timeline import week_bounds

__all__ = [
    "DEFAULT_POLICY",
    "POLICY_KEY",
    "policy_at",
    "categorize",
    "category_names",
    "team_investment",
    "investment_by_team",
]

POLICY_KEY = "policy"
# What a team gets before it writes its own: the split engineering-intelligence tools
# start from (roadmap, bugs, support, tech debt, and keeping the lights on).
DEFAULT_POLICY = InvestmentPolicy(
    categories=(
        InvestmentCategory(name="roadmap", roadmap=True),
        InvestmentCategory(name="bugs", item_types=("Bug", "Defect", "Incident")),
        InvestmentCategory(name="support", labels=("support", "customer-support")),
        InvestmentCategory(name="tech-debt", labels=("tech-debt", "techdebt", "refactoring")),
    ),
    default="maintenance",
)


def policy_at(entities: Entities, at: str | None = None) -> InvestmentPolicy:
    """The policy as it stood at ``at`` (default: now); the default one before any."""
    state = entities.get("investment", {}).get(POLICY_KEY)
    plan = plan_at(state, at) if state else None
    if not plan:
        return DEFAULT_POLICY
    return InvestmentPolicy.model_validate({k: v for k, v in plan.items() if k != "at"})


def category_names(policy: InvestmentPolicy) -> list[str]:
    names = [c.name for c in policy.categories]
    return names if policy.default in names else [*names, policy.default]


Matcher = Callable[[Mapping[str, Any], bool], bool]  # (stable view, serves roadmap) -> match


def _matcher(category: InvestmentCategory) -> Matcher:
    types = {t.lower() for t in category.item_types}
    labels = set(category.labels)
    epics = set(category.epics)
    jql = compile_jql(category.jql) if category.jql else None

    def matches(view: Mapping[str, Any], serves_roadmap: bool) -> bool:
        return bool(
            (category.roadmap and serves_roadmap)
            or (types and (view["type"] or "").lower() in types)
            or (labels and labels & set(view["labels"]))
            or (epics and view["key"] in epics)
            or (jql is not None and jql(view))
        )

    return matches


def categorize(
    index: WorkIndex, owner: Mapping[str, str], policy: InvestmentPolicy
) -> dict[str, str]:
    """Work item -> its category. ``owner``: item -> roadmap item (with descendants)."""
    rules = [(c.name, _matcher(c)) for c in policy.categories]

    def first_match(view: Mapping[str, Any], serves_roadmap: bool) -> str | None:
        return next((name for name, match in rules if match(view, serves_roadmap)), None)

    if any(c.epics or c.jql for c in policy.categories):
        own = {key: first_match(view, key in owner) for key, view in index.stable.items()}
    else:
        # Without epic or JQL rules an item's own category follows from its type, labels
        # and whether it serves the roadmap: worked out once per such combination, not
        # once per item (100k items share a few dozen).
        seen: dict[tuple[Any, ...], str | None] = {}
        own = {}
        for key, view in index.stable.items():
            serves = key in owner
            shape = (view["type"], serves, *view["labels"])
            if shape not in seen:
                seen[shape] = first_match(view, serves)
            own[key] = seen[shape]
    resolved: dict[str, str | None] = {}
    for key in index.stable:
        chain: list[str] = []
        cursor: str | None = key
        while cursor is not None and cursor in index.stable:
            if cursor in resolved or cursor in chain:
                break
            chain.append(cursor)
            cursor = index.stable[cursor]["parent"]
        inherited = resolved.get(cursor) if cursor is not None else None
        for k in reversed(chain):  # from the top down: a parent's category wins
            inherited = inherited or own[k]
            resolved[k] = inherited
    return {k: v or policy.default for k, v in resolved.items()}


def team_investment(
    team: str,
    entities: Entities,
    index: WorkIndex,
    start: datetime,
    end: datetime,
    *,
    shares: Allocation,
    policy: InvestmentPolicy,
    categories: Mapping[str, str],
    effort_by_week: Mapping[str, Mapping[str, float]] | None = None,
) -> list[dict[str, Any]]:
    """One row per ISO week in [start, end): effort FTE per category, each category's share,
    the team's target share as it stood that week and the gap (share - target).
    ``categories`` is ``categorize`` under ``policy``: one policy reads the whole range, so
    weeks stay comparable. ``effort_by_week`` (week -> category -> FTE, from
    ``category_effort``) may be passed in when computing many teams."""
    team_state = entities.get("team", {}).get(team)
    names = category_names(policy)
    if effort_by_week is None:
        effort_by_week = category_effort(index, shares, categories, policy.default).get(team, {})
    rows = []
    for week in weeks_between(start, end):
        _, next_monday = week_bounds(week)
        effort = effort_by_week.get(week, {})
        total = sum(effort.values())
        plan = plan_at(team_state, iso(next_monday)) if team_state else None
        target = (plan or {}).get("investment_target") or {}
        mix = []
        for name in names:
            fte: float = effort.get(name, 0.0)
            share: float | None = fte / total if total else None
            goal: float | None = target.get(name)
            mix.append(
                {
                    "category": name,
                    "effort_fte": round(fte, 4),
                    "share": round(share, 4) if share is not None else None,
                    "target_share": goal,
                    "gap": round(share - goal, 4)
                    if share is not None and goal is not None
                    else None,
                }
            )
        rows.append({"week": week, "effort_fte": round(total, 4), "categories": mix})
    return rows


def category_effort(
    index: WorkIndex,
    shares: Allocation,
    categories: Mapping[str, str],
    default: str,
) -> dict[str, dict[str, dict[str, float]]]:
    """Team -> ISO week -> category -> effort FTE, in one pass over the allocation."""
    return weekly_effort(index, shares, lambda key: categories.get(key, default))


def investment_by_team(
    entities: Entities,
    index: WorkIndex,
    teams: Iterable[str],
    start: datetime,
    end: datetime,
    *,
    shares: Allocation | None = None,
    owner: Mapping[str, str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Each team's weekly mix over one allocation and one categorisation of [start, end),
    under the policy as it stood at ``end``. ``shares`` and ``owner`` may be passed in by
    a caller that already has them."""
    if shares is None:
        shares = weekly_allocation(entities, index, start, end)
    if owner is None:
        owner = roadmap_owner(entities, index)
    policy = policy_at(entities, iso(end))
    categories = categorize(index, owner, policy)
    effort = category_effort(index, shares, categories, policy.default)
    return {
        team: team_investment(
            team,
            entities,
            index,
            start,
            end,
            shares=shares,
            policy=policy,
            categories=categories,
            effort_by_week=effort.get(team, {}),
        )
        for team in teams
    }
