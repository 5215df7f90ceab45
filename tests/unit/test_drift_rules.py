"""Each drift rule on a small organisation whose numbers are worked out by hand.

"Now" is Wednesday 2026-03-04 12:00 UTC: the last complete ISO weeks are W08 (Feb 16-22)
and W09 (Feb 23 - Mar 1).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.config import AlertingConfig, parse_alerting
from alerts.forecast import forecast_weeks
from alerts.rules import Observation, evaluate_rules, fingerprint
from hub.drift_inputs import drift_inputs
from projections.rollups import WorkIndex
from tests.builders import Entities, build, ev, finish, item, start

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)


def day(month: int, d: int, hour: int = 9) -> datetime:
    return datetime(2026, month, d, hour, tzinfo=UTC)


def team(key: str = "core", **fields: Any) -> Any:
    return ev("team.defined", key, "t", day(1, 1), **{"name": key, "capacity_fte": 4, **fields})


def plan(key: str, **fields: Any) -> Any:
    body = {"title": key.title(), "teams": ["core"], **fields}
    return ev("roadmap_item.planned", key, "p", day(1, 2), **body)


def observe(events: list[Any], config: AlertingConfig | None = None) -> list[Observation]:
    entities: Entities = build(events)
    config = config or AlertingConfig()
    inputs = drift_inputs(entities, WorkIndex(entities, NOW), NOW, config)
    observed, failed = evaluate_rules(inputs, config)
    assert failed == set()
    return observed


def named(observed: list[Observation], alertname: str) -> list[Observation]:
    return [o for o in observed if o.labels["alertname"] == alertname]


def test_past_due_counts_days_since_the_target() -> None:
    """PastDue fires for an open item past its target date with the days late as its value."""
    events = [team(), plan("r1", target_date="2026-02-20", epics=["E-1"]), item("E-1", day(1, 5))]
    (alert,) = named(observe(events), "PastDue")
    assert alert.value == 12
    assert alert.labels == {
        "alertname": "PastDue",
        "severity": "critical",
        "team": "core",
        "roadmap_item": "r1",
    }
    assert "0 of 1 items done" in alert.annotations["description"]
    done = [*events, start("E-1", day(2, 1)), finish("E-1", day(2, 10))]
    assert named(observe(done), "PastDue") == []  # launched items are not past due


def test_started_late_after_grace_and_only_until_work_starts() -> None:
    """StartedLate fires after the grace period and stops once linked work starts; team overrides
    apply.
    """
    events = [team(), plan("r1", planned_start="2026-02-01", epics=["E-1"]), item("E-1", day(1, 5))]
    (alert,) = named(observe(events), "StartedLate")
    assert alert.value == 31
    assert named(observe([*events, start("E-1", day(3, 2))]), "StartedLate") == []
    lenient = parse_alerting({"rules": {"started_late": {"teams": {"core": {"grace_days": 40}}}}})
    assert named(observe(events, lenient), "StartedLate") == []


def test_scope_creep_compares_with_the_scope_at_commitment() -> None:
    """ScopeCreep compares an item's current scope with its scope at commitment."""
    events = [
        team(),
        plan("r1", committed_at=day(1, 10).isoformat(), labels=["r1"]),
        item("A", day(1, 5), labels=["r1"]),
        item("B", day(1, 6), labels=["r1"]),
        item("C", day(2, 1), labels=["r1"]),  # added after commitment: 3 vs 2 = +50%
    ]
    (alert,) = named(observe(events), "ScopeCreep")
    assert alert.value == 50.0
    assert "1 added and 0 removed" in alert.annotations["description"]
    relaxed = parse_alerting({"rules": {"scope_creep": {"percent": 60}}})
    assert named(observe(events, relaxed), "ScopeCreep") == []


def test_stalled_needs_commitment_progress_and_idle_days() -> None:
    """Stalled fires only for committed, in-progress items idle longer than the threshold."""
    events = [
        team(),
        plan("r1", committed_at=day(1, 10).isoformat(), epics=["E-1"]),
        item("E-1", day(1, 5)),
        start("E-1", day(2, 10)),  # the last activity: 22.1 days before now
    ]
    (alert,) = named(observe(events), "Stalled")
    assert alert.value == 22.1
    uncommitted = [team(), plan("r1", epics=["E-1"]), *events[2:]]
    assert named(observe(uncommitted), "Stalled") == []


def test_wip_over_the_teams_limit() -> None:
    """WipOverLimit fires when a team's in-progress leaves exceed its WIP limit."""
    events = [
        team(wip_limit=1),
        item("A", day(2, 1)),
        item("B", day(2, 1)),
        start("A", day(2, 2)),
        start("B", day(2, 3)),
    ]
    (alert,) = named(observe(events), "WipOverLimit")
    assert alert.value == 2 and alert.labels["team"] == "core"
    assert alert.for_seconds == 4 * 3600  # default "for": a morning's standup may clear it


def request(key: str, opened: datetime, **fields: Any) -> list[Any]:
    return [ev("customer_request.opened", key, "o", opened, title=key, **fields)]


def escalate(key: str, when: datetime, to: str = "core") -> Any:
    return ev("customer_request.escalated", key, "e", when, team=to)


def test_support_load_is_open_escalations_times_their_cost_over_capacity() -> None:
    # capacity 2 FTE; each open escalated request costs 0.1 FTE
    """SupportOverload is open escalations times their FTE cost over capacity, and closing requests
    clears it.
    """
    base: list[Any] = [team(capacity_fte=2)]
    for n in range(7):
        base += [*request(f"T-{n}", day(2, 1)), escalate(f"T-{n}", day(2, 2))]
    (alert,) = named(observe(base), "SupportOverload")
    assert alert.value == 35.0  # 7 x 0.1 / 2
    closed = [*base, ev("customer_request.closed", "T-0", "c", day(3, 1))]
    closed += [ev("customer_request.closed", "T-1", "c", day(3, 1))]
    assert named(observe(closed), "SupportOverload") == []  # 5 x 0.1 / 2 = 25%


def test_critical_demand_waiting_on_an_unstarted_item() -> None:
    """DemandAging fires when critical customer demand waits on an unstarted roadmap item past the
    threshold.
    """
    link = {"relation": "roadmap_item", "target": {"kind": "roadmap_item", "key": "r1"}}
    events = [
        team(),
        plan("r1", epics=["E-1"]),
        item("E-1", day(1, 5)),
        *request("T-1", day(1, 23), priority="urgent"),
        ev("customer_request.linked", "T-1", "l", day(1, 24), **link),
    ]
    (alert,) = named(observe(events), "DemandAging")
    assert alert.value == 40.1  # Jan 23 09:00 -> Mar 4 12:00
    low = [*events[:3], *request("T-1", day(1, 23), priority="low"), events[4]]
    assert named(observe(low), "DemandAging") == []  # no ARR, nothing critical


def worked(key: str, person: str, since: datetime, **fields: Any) -> list[Any]:
    """An item its assignee works on from ``since`` on, alone."""
    return [item(key, since - timedelta(days=1), assignee=person, **fields), start(key, since)]


def test_unplanned_work_share_over_consecutive_complete_weeks() -> None:
    """UnplannedWork fires only when the unplanned share is over the threshold for the configured
    complete weeks.
    """
    events = [team(), *worked("X-1", "ana", day(2, 16))]  # unplanned, full time from W08 on
    (alert,) = named(observe(events), "UnplannedWork")
    assert alert.value == 100.0
    assert "2026-W08 100%, 2026-W09 100%" in alert.annotations["description"]
    later = [team(), *worked("X-1", "ana", day(2, 23))]  # only W09: one week of two
    assert named(observe(later), "UnplannedWork") == []


def test_allocation_drift_against_the_plan_as_it_stood() -> None:
    """AllocationDrift compares actual effort share with the plan as it stood each week."""
    events = [
        team(capacity_fte=4),
        plan("r1", planned_allocation={"core": 2}, epics=["E-1"]),  # planned 50%
        item("E-1", day(1, 5)),
        *worked("X-1", "ana", day(2, 16)),  # actual 1 FTE on unplanned, 0 on r1
    ]
    (alert,) = named(observe(events), "AllocationDrift")
    assert alert.value == -50.0
    assert alert.labels["roadmap_item"] == "r1"
    assert "2026-W08 0% vs 50%, 2026-W09 0% vs 50%" in alert.annotations["description"]


def test_over_budget_from_effort_times_cost_rate() -> None:
    """OverBudget computes spend as effort FTE times the team's cost rate against the item's
    budget.
    """
    events = [
        team(capacity_fte=4, cost_rate=1000),
        plan("r1", budget=1500, epics=["E-1"], target_date="2026-06-30"),
        *worked("E-1", "ana", day(2, 16)),  # 1 FTE-week each in W08, W09 and 3 days of W10
    ]
    (alert,) = named(observe(events), "OverBudget")
    assert "spent 2,600 of a 1,500 budget" in alert.annotations["summary"]
    assert alert.value == 1100.0
    # Burn: the last 4 complete weeks average (0 + 0 + 1000 + 1000) / 4 = 500 a week;
    # 302 days (43.14 weeks) to the target add 21,571 to the 2,600 spent: 24,171 > 20,000.
    roomy = [events[0], plan("r1", budget=20_000, epics=["E-1"], target_date="2026-12-31")]
    (projected,) = named(observe([*roomy, *events[2:]]), "OverBudget")
    assert "on course to spend 24,171 of a 20,000 budget" in projected.annotations["summary"]
    enough = [events[0], plan("r1", budget=25_000, epics=["E-1"], target_date="2026-12-31")]
    assert named(observe([*enough, *events[2:]]), "OverBudget") == []


def test_forecast_slip_from_the_teams_weekly_throughput() -> None:
    # The team finished one item in each of the last 12 complete weeks: throughput 1/week,
    # so 10 remaining items take 10 weeks in every run; the target is 2 weeks away.
    """ForecastSlip fires when the Monte Carlo finish from weekly throughput is past the target
    plus grace.
    """
    events: list[Any] = [team(), plan("r1", target_date="2026-03-18", labels=["r1"])]
    for n in range(12):
        done_on = NOW - timedelta(weeks=n + 1)
        events += [item(f"D-{n}", done_on - timedelta(days=2)), finish(f"D-{n}", done_on)]
    events += [item(f"R-{n}", day(2, 1), labels=["r1"]) for n in range(10)]
    (alert,) = named(observe(events), "ForecastSlip")
    assert alert.value == 56  # finish 2026-05-13 vs target 2026-03-18
    assert "P85 finish 2026-05-13" in alert.annotations["description"]
    assert "10 items left; throughput 1.0/week" in alert.annotations["description"]
    generous = parse_alerting({"rules": {"forecast_slip": {"grace_days": 60}}})
    assert named(observe(events, generous), "ForecastSlip") == []


def test_a_teams_longer_history_window_is_read_in_full() -> None:
    """A team override asking for 20 weeks of throughput gets 20 weeks, not the default 12
    padded with zeros: one item a week reads as 1.0/week."""
    events: list[Any] = [team(), plan("r1", target_date="2026-03-18", labels=["r1"])]
    for n in range(20):
        done_on = NOW - timedelta(weeks=n + 1)
        events += [item(f"D-{n}", done_on - timedelta(days=2)), finish(f"D-{n}", done_on)]
    events += [item(f"R-{n}", day(2, 1), labels=["r1"]) for n in range(10)]
    longer = parse_alerting(
        {"rules": {"forecast_slip": {"teams": {"core": {"history_weeks": 20}}}}}
    )
    (alert,) = named(observe(events, longer), "ForecastSlip")
    assert "throughput 1.0/week over the last 20 weeks" in alert.annotations["description"]
    # Unplanned work over 8 weeks for one team, while the forecast reads only 4.
    narrow = parse_alerting(
        {
            "rules": {
                "forecast_slip": {"history_weeks": 4},
                "unplanned_work": {"teams": {"core": {"weeks": 8}}},
            }
        }
    )
    (busy,) = named(observe([team(), *worked("X-1", "ana", day(1, 5))], narrow), "UnplannedWork")
    assert "for 8 weeks" in busy.annotations["description"]


def test_monte_carlo_p85_matches_the_hand_computed_distribution() -> None:
    # Weekly throughput is 0 or 2 with equal chance; 2 items remain. The finish week W is
    # geometric: P(W <= k) = 1 - 0.5^k -> 0.5, 0.75, 0.875. The 85th percentile is week 3.
    """The Monte Carlo percentile matches a hand-computed geometric distribution and is
    reproducible with a seed.
    """
    forecast = forecast_weeks([0, 2], 2, runs=10_000, percentile=85, seed=42)
    assert forecast.weeks == 3.0
    assert forecast_weeks([0, 2], 2, runs=10_000, seed=42) == forecast  # fixed seed
    assert forecast_weeks([0, 0], 5).never and math.isinf(forecast_weeks([], 1).weeks)
    assert forecast_weeks([3], 0).weeks == 0


def test_runs_longer_than_the_first_block_of_weeks_are_drawn_on() -> None:
    # One week in ten finishes all 10 items: W is geometric with p = 0.1, so
    # P(W <= k) = 1 - 0.9^k: the median is week 7 and the 95th percentile week 29, past
    # the first block of weeks drawn (2 x 10 / mean 1 + 8 = 28).
    """Runs still short of the remaining work after the weeks drawn up front go on drawing
    until they finish, and runs that need more than ten years read as never."""
    forecast = forecast_weeks([0] * 9 + [10], 10, runs=20_000, percentile=95, seed=1)
    assert (forecast.p50_weeks, forecast.weeks) == (7.0, 29.0)
    assert forecast_weeks([1], 10, runs=50).weeks == 10.0  # the same every run
    assert forecast_weeks([0] * 99 + [1], 10, runs=50).never  # ~1,000 weeks


def test_fingerprints_are_stable_and_label_order_free() -> None:
    """An alert's fingerprint depends on its labels only, not on their order."""
    a = fingerprint({"alertname": "PastDue", "team": "core"})
    assert a == fingerprint({"team": "core", "alertname": "PastDue"})
    assert a != fingerprint({"alertname": "PastDue", "team": "growth"})


def test_disabled_rules_and_team_overrides() -> None:
    """A rule disabled for a team observes nothing there, and settings overrides change severity
    and for.
    """
    events = [team(), plan("r1", target_date="2026-02-20")]
    off = parse_alerting({"rules": {"past_due": {"teams": {"core": {"enabled": False}}}}})
    assert named(observe(events, off), "PastDue") == []
    louder = parse_alerting({"rules": {"past_due": {"severity": "warning", "for": "2h"}}})
    (alert,) = named(observe(events, louder), "PastDue")
    assert alert.labels["severity"] == "warning" and alert.for_seconds == 7200
