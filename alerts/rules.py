"""Drift rules: the projections compared with the roadmap, as observations of drift.

``evaluate_rules`` is pure: folded entities, the plan and ``now`` in, the conditions that
hold right now out. Whether a condition has held long enough to fire, and who hears about
it, is the engine's business (``alerts.engine``, ``alerts.dispatch``).

Each observation's labels identify it (alertname, team, roadmap_item, severity), so the
same drift seen on the next evaluation has the same fingerprint; its annotations carry the
numbers behind it and links to Jira and the hub API.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import structlog

from alerts.config import AlertingConfig, RuleSettings
from alerts.forecast import forecast_weeks
from hub.events import iso, parse_utc
from projections.customers import current_links
from projections.resources import daily_allocation, roadmap_owner, team_resources
from projections.roadmap import plan_at
from projections.rollups import Entities, WorkIndex, roadmap_item_view
from projections.timeline import iso_week, week_bounds

__all__ = ["Observation", "DriftInputs", "drift_inputs", "evaluate_rules", "fingerprint", "RULES"]

log = structlog.get_logger(__name__)

OPEN_STAGES = ("concept", "planned", "in_progress")
ACTIVE_WORK = ("in_progress", "blocked")


def fingerprint(labels: Mapping[str, str]) -> str:
    """Stable identity of an alert: its sorted label set, hashed."""
    text = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Observation:
    """A drift condition that holds now."""

    labels: dict[str, str]
    annotations: dict[str, str]
    value: float
    for_seconds: float
    keep_firing_for_seconds: float = 0.0

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)


@dataclass
class DriftInputs:
    """Everything the rules read, computed once per evaluation."""

    entities: Entities
    index: WorkIndex
    now: datetime
    external_url: str
    items: dict[str, dict[str, Any]]  # roadmap item id -> view (open or not)
    plans: dict[str, dict[str, Any]]  # roadmap item id -> current plan
    teams: dict[str, dict[str, Any]]  # team -> current definition
    weeks: dict[str, list[dict[str, Any]]]  # team -> resource rows, oldest first, complete
    throughput: dict[str, list[int]]  # team -> done items per complete week, oldest first
    current_week: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.now.date()


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
    shares = daily_allocation(entities, index, start, now)
    owner = roadmap_owner(entities, index)
    weeks: dict[str, list[dict[str, Any]]] = {}
    current: dict[str, dict[str, Any]] = {}
    for team in teams:
        rows = team_resources(team, entities, index, start, now, shares=shares, owner=owner)
        weeks[team] = [r for r in rows if r["week"] != iso_week(now)]
        current[team] = rows[-1] if rows and rows[-1]["week"] == iso_week(now) else {}
    done_by_week: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for stable in index.stable.values():
        if stable["done_at"] and stable["team"] and not stable["deleted_at"]:
            done_by_week[stable["team"]][iso_week(parse_utc(stable["done_at"]))] += 1
    sample_weeks = _complete_weeks(now, forecast_window)
    throughput = {team: [done_by_week[team].get(w, 0) for w in sample_weeks] for team in teams}
    base = (config.external_url or "").rstrip("/")
    return DriftInputs(entities, index, now, base, items, plans, teams, weeks, throughput, current)


# --- helpers ----------------------------------------------------------------------


def _days(from_day: str | date, to_day: date) -> int:
    start = from_day if isinstance(from_day, date) else date.fromisoformat(from_day[:10])
    return (to_day - start).days


def _primary_team(view: Mapping[str, Any]) -> str:
    return view["teams"][0] if view.get("teams") else ""


def _item_links(inputs: DriftInputs, item_id: str) -> dict[str, str]:
    links = {"hub_url": f"{inputs.external_url}/api/v1/roadmap/items/{item_id}"}
    plan = inputs.plans.get(item_id) or {}
    for epic in plan.get("epics") or ():
        view = inputs.index.stable.get(epic)
        if view and view.get("url"):
            links["jira_url"] = view["url"]
            break
    return links


def _team_links(inputs: DriftInputs, team: str) -> dict[str, str]:
    return {"hub_url": f"{inputs.external_url}/api/v1/teams/{team}/resources"}


def _observe(
    alertname: str,
    settings: RuleSettings,
    *,
    team: str,
    summary: str,
    description: str,
    value: float,
    links: dict[str, str],
    roadmap_item: str | None = None,
) -> Observation:
    labels = {"alertname": alertname, "severity": settings.severity}
    if team:
        labels["team"] = team
    if roadmap_item:
        labels["roadmap_item"] = roadmap_item
    return Observation(
        labels=labels,
        annotations={"summary": summary, "description": description, **links},
        value=float(value) if math.isfinite(value) else -1.0,
        for_seconds=settings.for_.total_seconds(),
        keep_firing_for_seconds=settings.keep_firing_for.total_seconds(),
    )


def _open_items(inputs: DriftInputs) -> Iterable[tuple[str, dict[str, Any], str]]:
    for key, view in sorted(inputs.items.items()):
        if view["stage"] in OPEN_STAGES:
            yield key, view, _primary_team(view)


# --- the rules --------------------------------------------------------------------


def forecast_slip(inputs: DriftInputs, config: AlertingConfig) -> Iterable[Observation]:
    """Monte Carlo over the owning teams' weekly throughput, scaled by the share of the
    team planned for this item. A team that finished nothing in the sample window gets no
    forecast (stalled and started-late rules speak for it)."""
    for key, view, team in _open_items(inputs):
        s = config.rules.forecast_slip.for_team(team)
        if not s.enabled or not view["target_date"]:
            continue
        remaining = view["progress"]["items_total"] - view["progress"]["items_done"]
        if remaining <= 0:
            continue
        samples = [0.0] * s.history_weeks
        for t in view["teams"]:
            weekly = inputs.throughput.get(t, [])[-s.history_weeks :]
            focus = _focus(inputs, key, t)
            for n, done in enumerate(weekly[-len(samples) :]):
                samples[n] += done * focus
        if not any(samples):
            continue  # no finished work to learn from: no forecast, rather than "never"
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
        target = date.fromisoformat(view["target_date"])
        deadline = target + timedelta(days=s.grace_days)
        mean = sum(samples) / len(samples) if samples else 0.0
        if result.never:
            finish_text, late_days = "never at the current throughput", math.inf
        else:
            finish = start + timedelta(weeks=result.weeks)
            if finish <= deadline:
                continue
            finish_text, late_days = f"{finish}", (finish - target).days
        yield _observe(
            "ForecastSlip",
            s,
            team=team,
            roadmap_item=key,
            summary=f"{view['title'] or key}: forecast P{s.percentile} finish is past its "
            f"target {target}",
            description=(
                f"P{s.percentile} finish {finish_text}"
                + (f", {late_days} days after target {target}" if math.isfinite(late_days) else "")
                + f" (grace {s.grace_days} days). {remaining} items left; throughput "
                f"{mean:.1f}/week over the last {s.history_weeks} weeks; {result.runs} runs."
            ),
            value=late_days,
            links=_item_links(inputs, key),
        )


def _focus(inputs: DriftInputs, item: str, team: str) -> float:
    """Share of the team's throughput this item may expect: planned FTE over capacity."""
    plan = inputs.plans.get(item) or {}
    planned = _planned_fte(plan, team, inputs.now)
    capacity = (inputs.teams.get(team) or {}).get("capacity_fte") or 0
    if planned is None or not capacity:
        return 1.0
    return min(1.0, planned / capacity)


def _planned_fte(plan: Mapping[str, Any], team: str, moment: datetime) -> float | None:
    quarter = f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"
    by_quarter = (plan.get("allocation_by_quarter") or {}).get(quarter) or {}
    if team in by_quarter:
        return float(by_quarter[team])
    flat = plan.get("planned_allocation") or {}
    return float(flat[team]) if team in flat else None


def past_due(inputs: DriftInputs, config: AlertingConfig) -> Iterable[Observation]:
    for key, view, team in _open_items(inputs):
        s = config.rules.past_due.for_team(team)
        if not s.enabled or not view["target_date"]:
            continue
        late = _days(view["target_date"], inputs.today)
        if late <= 0:
            continue
        progress = view["progress"]
        yield _observe(
            "PastDue",
            s,
            team=team,
            roadmap_item=key,
            summary=f"{view['title'] or key}: {late} days past its target date",
            description=(
                f"Target {view['target_date']} passed {late} days ago; stage {view['stage']}, "
                f"{progress['items_done']} of {progress['items_total']} items done."
            ),
            value=late,
            links=_item_links(inputs, key),
        )


def started_late(inputs: DriftInputs, config: AlertingConfig) -> Iterable[Observation]:
    for key, view, team in _open_items(inputs):
        s = config.rules.started_late.for_team(team)
        if not s.enabled or not view["planned_start"] or view["started_at"]:
            continue
        late = _days(view["planned_start"], inputs.today)
        if late <= s.grace_days:
            continue
        yield _observe(
            "StartedLate",
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
            links=_item_links(inputs, key),
        )


def allocation_drift(inputs: DriftInputs, config: AlertingConfig) -> Iterable[Observation]:
    for team, rows in sorted(inputs.weeks.items()):
        s = config.rules.allocation_drift.for_team(team)
        if not s.enabled or len(rows) < s.weeks:
            continue
        recent = rows[-s.weeks :]
        for key, plan in sorted(inputs.plans.items()):
            if team not in (plan.get("teams") or ()):
                continue
            gaps = []
            for row in recent:
                moment = week_bounds(row["week"])[1] - timedelta(microseconds=1)
                state = inputs.entities["roadmap_item"][key]
                week_plan = plan_at(state, iso(moment)) or {}
                planned = _planned_fte(week_plan, team, moment)
                capacity = row["capacity_fte"] or row["effort_fte"]
                if planned is None or not capacity:
                    break
                actual = row["effort_by_initiative_fte"].get(key, 0.0)
                gaps.append((100 * actual / capacity, 100 * planned / capacity))
            if len(gaps) < s.weeks or not all(abs(a - p) > s.points for a, p in gaps):
                continue
            actual, planned = gaps[-1]
            title = inputs.items.get(key, {}).get("title") or key
            yield _observe(
                "AllocationDrift",
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
                links=_item_links(inputs, key),
            )


def unplanned_work(inputs: DriftInputs, config: AlertingConfig) -> Iterable[Observation]:
    for team, rows in sorted(inputs.weeks.items()):
        s = config.rules.unplanned_work.for_team(team)
        recent = rows[-s.weeks :]
        if not s.enabled or len(recent) < s.weeks:
            continue
        shares = [r["unplanned_share"] for r in recent]
        if any(x is None or 100 * x <= s.percent for x in shares):
            continue
        yield _observe(
            "UnplannedWork",
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
            links=_team_links(inputs, team),
        )


def scope_creep(inputs: DriftInputs, config: AlertingConfig) -> Iterable[Observation]:
    for key, view, team in _open_items(inputs):
        s = config.rules.scope_creep.for_team(team)
        growth = view["scope"].get("growth_pct")
        if not s.enabled or growth is None or growth <= s.percent:
            continue
        scope = view["scope"]
        yield _observe(
            "ScopeCreep",
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
            links=_item_links(inputs, key),
        )


def stalled(inputs: DriftInputs, config: AlertingConfig) -> Iterable[Observation]:
    for key, view, team in _open_items(inputs):
        s = config.rules.stalled.for_team(team)
        plan = inputs.plans.get(key) or {}
        if not s.enabled or view["stage"] != "in_progress" or not plan.get("committed_at"):
            continue
        last = view["last_activity_at"]
        if not last:
            continue
        idle = (inputs.now - parse_utc(last)).total_seconds() / 86400
        if idle <= s.days:
            continue
        yield _observe(
            "Stalled",
            s,
            team=team,
            roadmap_item=key,
            summary=f"{view['title'] or key}: no activity for {idle:.0f} days",
            description=(
                f"Committed and in progress, but no linked work item changed since {last[:10]} "
                f"({idle:.1f} days; threshold {s.days:g})."
            ),
            value=round(idle, 1),
            links=_item_links(inputs, key),
        )


def wip_over_limit(inputs: DriftInputs, config: AlertingConfig) -> Iterable[Observation]:
    active: dict[str, int] = defaultdict(int)
    for key, view in inputs.index.stable.items():
        # Leaves only, as in the resource projection: an epic's work is in its children.
        if view["team"] and view["stage"] in ACTIVE_WORK and not inputs.index.children.get(key):
            active[view["team"]] += 1
    for team, plan in sorted(inputs.teams.items()):
        s = config.rules.wip_over_limit.for_team(team)
        limit = plan.get("wip_limit")
        if not s.enabled or limit is None or active[team] <= limit:
            continue
        yield _observe(
            "WipOverLimit",
            s,
            team=team,
            summary=f"{team}: {active[team]} items in progress, limit {limit}",
            description=(
                f"{team} has {active[team]} work items in progress or blocked against a WIP "
                f"limit of {limit}."
            ),
            value=active[team],
            links=_team_links(inputs, team),
        )


def support_overload(inputs: DriftInputs, config: AlertingConfig) -> Iterable[Observation]:
    open_requests: dict[str, int] = defaultdict(int)
    for request in inputs.entities.get("customer_request", {}).values():
        escalations = request.get("escalations") or []
        if escalations and not request.get("closed_at"):
            open_requests[escalations[-1]["team"]] += 1
    for team, plan in sorted(inputs.teams.items()):
        s = config.rules.support_overload.for_team(team)
        capacity = plan.get("capacity_fte") or 0
        if not s.enabled or not capacity:
            continue
        load = open_requests[team] * s.fte_per_open_request
        percent = 100 * load / capacity
        if percent <= s.percent:
            continue
        yield _observe(
            "SupportOverload",
            s,
            team=team,
            summary=f"{team}: support load {percent:.0f}% of capacity",
            description=(
                f"{open_requests[team]} open escalated requests at {s.fte_per_open_request:g} "
                f"FTE each = {load:.1f} FTE of {capacity:g} FTE capacity ({percent:.0f}%, "
                f"threshold {s.percent:g}%)."
            ),
            value=round(percent, 1),
            links=_team_links(inputs, team),
        )


def demand_aging(inputs: DriftInputs, config: AlertingConfig) -> Iterable[Observation]:
    requests = inputs.entities.get("customer_request", {}).values()
    accounts = inputs.entities.get("customer_account", {})
    for key, view, team in _open_items(inputs):
        s = config.rules.demand_aging.for_team(team)
        if not s.enabled or view["started_at"]:
            continue
        members = set(view["work_items"])
        linked = [
            r
            for r in requests
            if not r.get("closed_at")
            and r.get("opened_at")
            and (
                key in current_links(r, "roadmap_item")
                or members.intersection(current_links(r, "work_item"))
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
        yield _observe(
            "DemandAging",
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
            links=_item_links(inputs, key),
        )


def over_budget(inputs: DriftInputs, config: AlertingConfig) -> Iterable[Observation]:
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
        team = _primary_team(view)
        s = config.rules.over_budget.for_team(team)
        budget = plan.get("budget")
        if not s.enabled or budget is None or view.get("stage") not in OPEN_STAGES:
            continue
        spent = spend.get(key, 0.0)
        projected = spent
        if plan.get("target_date"):
            weeks_left = max(0.0, _days(inputs.today, date.fromisoformat(plan["target_date"])) / 7)
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
        yield _observe(
            "OverBudget",
            s,
            team=team,
            roadmap_item=key,
            summary=f"{view.get('title') or key}: {text.split(' (')[0]}",
            description=f"{view.get('title') or key} has {text}; spend is effort FTE x team cost "
            "rate, from the resource projection.",
            value=round(over, 2),
            links=_item_links(inputs, key),
        )


Rule = Callable[[DriftInputs, AlertingConfig], Iterable[Observation]]
RULES: dict[str, Rule] = {
    "forecast_slip": forecast_slip,
    "past_due": past_due,
    "started_late": started_late,
    "allocation_drift": allocation_drift,
    "unplanned_work": unplanned_work,
    "scope_creep": scope_creep,
    "stalled": stalled,
    "wip_over_limit": wip_over_limit,
    "support_overload": support_overload,
    "demand_aging": demand_aging,
    "over_budget": over_budget,
}
ALERTNAMES = {
    "forecast_slip": "ForecastSlip",
    "past_due": "PastDue",
    "started_late": "StartedLate",
    "allocation_drift": "AllocationDrift",
    "unplanned_work": "UnplannedWork",
    "scope_creep": "ScopeCreep",
    "stalled": "Stalled",
    "wip_over_limit": "WipOverLimit",
    "support_overload": "SupportOverload",
    "demand_aging": "DemandAging",
    "over_budget": "OverBudget",
}


def evaluate_rules(
    inputs: DriftInputs, config: AlertingConfig
) -> tuple[list[Observation], set[str]]:
    """Observations of every rule, and the alertnames whose rule failed to evaluate.

    A rule that raises is logged and skipped; its alerts are left as they were rather
    than resolved by an evaluation that never happened.
    """
    observed: list[Observation] = []
    failed: set[str] = set()
    for name, rule in RULES.items():
        try:
            observed.extend(rule(inputs, config))
        except Exception:
            log.exception("drift rule failed", rule=name)
            failed.add(ALERTNAMES[name])
    return observed, failed
