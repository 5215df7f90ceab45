"""Delivery analytics as pure functions: flow percentiles, aging WIP, investment balance."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.events import InvestmentCategory, InvestmentPolicy
from core.validation import InvalidConfigError
from projections.flow import (
    aging_wip,
    cycle_time_report,
    percentile,
    request_lead_times,
    team_percentiles,
    weekly_throughput,
)
from projections.investment import DEFAULT_POLICY, categorize, policy_at, team_investment
from projections.resources import roadmap_owner, weekly_allocation
from projections.roadmap_document import document_at, load_roadmap_text, roadmap_changes
from projections.rollups import WorkIndex, request_view
from tests.builders import build, ev, finish, item, start

MONDAY = datetime(2026, 3, 2, 9, tzinfo=UTC)  # ISO week 2026-W10


def day(n: float) -> datetime:
    return MONDAY + timedelta(days=n)


def test_percentiles_are_nearest_rank_values_that_really_occurred() -> None:
    """Nearest rank over 1..20: P50 10, P70 14, P85 17, P95 19; one value is every
    percentile; no values is no percentile."""
    values = [float(n) for n in range(20, 0, -1)]
    assert [percentile(values, p) for p in (50, 70, 85, 95)] == [10, 14, 17, 19]
    assert percentile([4.0], 85) == 4.0 and percentile([], 50) is None


def _flow_history() -> list[Any]:
    """Team core finished ten stories taking 1..10 in-progress days, one bug in 2 days, and
    an epic (not counted); two stories are in progress, started 3 and 12 days ago."""
    events: list[Any] = [item("E-1", day(0), item_type="Epic"), start("E-1", day(0))]
    for n in range(1, 11):
        key = f"S-{n}"
        events += [item(key, day(0), parent="E-1"), start(key, day(n)), finish(key, day(2 * n))]
    events += [item("B-1", day(1), item_type="Bug"), start("B-1", day(3)), finish("B-1", day(5))]
    events += [item("W-1", day(10)), start("W-1", day(25))]
    events += [item("W-2", day(10), team="edge"), start("W-2", day(16))]
    return events


def test_cycle_times_group_by_team_type_and_period_and_skip_epics() -> None:
    """Ten stories of 1..10 days and a 2-day bug: overall P50 5 days over 11 leaves,
    stories P85 9, the bug alone P50 2; per ISO week of finishing; the epic never counts."""
    entities = build(_flow_history())
    index = WorkIndex(entities, day(28))
    report = cycle_time_report(index, day(0), day(28), period="week")
    assert report["overall"]["count"] == 11 and report["overall"]["p50_days"] == 5.0
    assert report["by_type"]["Story"]["p85_days"] == 9.0
    assert report["by_type"]["Bug"] == {
        "count": 1,
        "p50_days": 2.0,
        "p70_days": 2.0,
        "p85_days": 2.0,
        "p95_days": 2.0,
    }
    assert "Epic" not in report["by_type"] and set(report["by_team"]) == {"core"}
    weeks = {row["period"]: row["count"] for row in report["by_period"]}
    assert weeks == {"2026-W10": 4, "2026-W11": 3, "2026-W12": 4}
    stories = cycle_time_report(index, day(0), day(28), item_type="Story", team="core")
    assert stories["overall"]["count"] == 10


def test_throughput_lists_every_week_including_empty_ones() -> None:
    """Done leaves per ISO week of finishing, with a zero for a week nothing finished."""
    index = WorkIndex(build(_flow_history()), day(35))
    rows = weekly_throughput(index, day(0), day(35), team="core")
    assert rows == [
        {"week": "2026-W10", "throughput": 4},
        {"week": "2026-W11", "throughput": 3},
        {"week": "2026-W12", "throughput": 4},
        {"week": "2026-W13", "throughput": 0},
        {"week": "2026-W14", "throughput": 0},
        {"week": "2026-W15", "throughput": 0},
    ]


def test_aging_wip_reads_each_items_age_against_its_teams_percentiles() -> None:
    """At day 28 W-1 (started day 25, 3 days old) sits below core's P50 of 5 days; W-2
    (12 days) belongs to a team with no finished work, so it has no yardstick; epics are
    not WIP. An item past P85 (core's is 9 days, P95 10) is flagged: at day 35 W-1 is 10
    days old, above P85 but not above P95."""
    entities = build(_flow_history())
    rows = aging_wip(WorkIndex(entities, day(28)), day(28))
    assert [(r["key"], r["age_days"], r["band"]) for r in rows] == [
        ("W-2", 12.0, "no history"),
        ("W-1", 3.0, "below p50"),
    ]
    later = aging_wip(WorkIndex(entities, day(35)), day(35), team="core")
    assert later[0]["key"] == "W-1" and later[0]["over_p85"] and later[0]["band"] == "above p85"
    assert team_percentiles(WorkIndex(entities, day(28)), day(28))["core"]["p85_days"] == 9.0


def test_request_lead_time_runs_from_opened_to_delivered() -> None:
    """A request opened on day 1 for work done on day 4 took 3 days; undelivered ones and
    ones delivered outside the window are not counted."""
    events = [
        item("S-1", day(0)),
        start("S-1", day(2)),
        finish("S-1", day(4)),
        ev("customer_request.opened", "Z-1", "o", day(1), title="CSV please"),
        ev(
            "customer_request.linked",
            "Z-1",
            "l",
            day(1),
            relation="work_item",
            target={"kind": "work_item", "key": "S-1"},
        ),
        ev("customer_request.opened", "Z-2", "o", day(1), title="Waiting"),
    ]
    entities = build(events)
    index = WorkIndex(entities, day(10))
    views = [request_view(s, entities, index) for s in entities["customer_request"].values()]
    result = request_lead_times(views, day(0), day(10))
    assert result["overall"]["count"] == 1 and result["overall"]["p50_days"] == 3.0
    assert request_lead_times(views, day(5), day(10))["overall"]["count"] == 0


def _investment_events() -> list[Any]:
    """R1 owns epic E-1; a bug under E-1 is roadmap work (inherited); a support-labelled
    epic's tech-debt-labelled story is support (the parent decides); a lone bug is bugs
    and a plain chore the default. ana works E-1's bug all week, bo splits his days
    between the two others and cy works the chore."""
    return [
        ev(
            "roadmap_item.planned",
            "R1",
            "p",
            day(0),
            title="Exports",
            teams=["core"],
            epics=["E-1"],
        ),
        ev(
            "team.defined",
            "core",
            "t",
            day(0),
            name="Core",
            capacity_fte=3,
            investment_target={"roadmap": 0.5, "bugs": 0.2},
        ),
        item("E-1", day(0), item_type="Epic"),
        item("B-1", day(0), item_type="Bug", parent="E-1", assignee="ana"),
        item("E-2", day(0), item_type="Epic", labels=["support"]),
        item("S-1", day(0), parent="E-2", labels=["tech-debt"], assignee="bo"),
        item("B-2", day(0), item_type="Bug", assignee="bo"),
        item("C-1", day(0), assignee="cy"),
        *(start(k, MONDAY) for k in ("B-1", "S-1", "B-2", "C-1")),
    ]


def test_every_item_gets_one_category_and_children_inherit_their_parents() -> None:
    """First matching rule from the top of the tree down; no match is the default."""
    entities = build(_investment_events())
    index = WorkIndex(entities, day(5))
    found = categorize(index, roadmap_owner(entities, index), DEFAULT_POLICY)
    assert found == {
        "E-1": "roadmap",
        "B-1": "roadmap",
        "E-2": "support",
        "S-1": "support",
        "B-2": "bugs",
        "C-1": "maintenance",
    }


def test_epic_and_jql_rules_are_judged_item_by_item() -> None:
    """Rules naming epics or JQL depend on more than an item's type and labels: an epic
    rule ahead of the defaults takes E-2's tree, a JQL rule takes C-1 by its key, and the
    items no such rule names fall where the type and label rules put them."""
    entities = build(_investment_events())
    index = WorkIndex(entities, day(5))
    policy = InvestmentPolicy(
        categories=(
            InvestmentCategory(name="platform", epics=("E-2",)),
            InvestmentCategory(name="chores", jql="key = C-1"),
            *DEFAULT_POLICY.categories,
        ),
        default="maintenance",
    )
    assert categorize(index, roadmap_owner(entities, index), policy) == {
        "E-1": "roadmap",
        "B-1": "roadmap",
        "E-2": "platform",
        "S-1": "platform",
        "B-2": "bugs",
        "C-1": "chores",
    }


def test_investment_mix_is_effort_fte_per_category_against_the_teams_target() -> None:
    """Week 10: ana's 5 days are 1 FTE of roadmap, bo's split 0.5 support + 0.5 bugs, cy's
    1 FTE maintenance: 3 FTE, roadmap 1/3 against a 50% target (gap -0.1667)."""
    entities = build(_investment_events())
    now = day(5)
    index = WorkIndex(entities, now)
    shares = weekly_allocation(entities, index, MONDAY - timedelta(hours=9), now)
    policy = policy_at(entities)
    categories = categorize(index, roadmap_owner(entities, index), policy)
    (week,) = team_investment(
        "core", entities, index, MONDAY, now, shares=shares, policy=policy, categories=categories
    )
    assert week["week"] == "2026-W10" and week["effort_fte"] == 3.0
    mix = {row["category"]: row for row in week["categories"]}
    assert [r["category"] for r in week["categories"]] == [
        "roadmap",
        "bugs",
        "support",
        "tech-debt",
        "maintenance",
    ]
    assert mix["roadmap"]["effort_fte"] == 1.0 and mix["roadmap"]["gap"] == -0.1667
    assert mix["support"]["effort_fte"] == 0.5 and mix["bugs"]["share"] == 0.1667
    assert mix["maintenance"]["target_share"] is None and mix["tech-debt"]["effort_fte"] == 0.0


INVESTMENT_ROADMAP = """
investment:
  categories:
    - {name: roadmap, roadmap: true}
    - {name: keep-the-lights-on, item_types: [Bug], labels: [ops]}
  default: other
teams:
  core: {capacity_fte: 3, investment_target: {roadmap: 70%, keep-the-lights-on: 20}}
"""


def test_the_roadmap_document_carries_the_policy_and_targets_and_applies_once() -> None:
    """The investment section and the targets become events (percentages as fractions);
    the document read back from the log applies again with no change."""
    doc = load_roadmap_text(INVESTMENT_ROADMAP)
    events = roadmap_changes(doc, {}, MONDAY)
    assert sorted(e.type for e in events) == ["investment.defined", "team.defined"]
    entities = build(events)
    assert policy_at(entities).default == "other"
    assert entities["team"]["core"]["versions"][-1]["investment_target"] == {
        "roadmap": 0.7,
        "keep-the-lights-on": 0.2,
    }
    back = document_at(entities)
    assert back["teams"]["core"]["investment_target"] == {
        "roadmap": "70%",
        "keep-the-lights-on": "20%",
    }
    again = load_roadmap_text(
        json.dumps({"investment": back["investment"], "teams": back["teams"]})
    )
    assert roadmap_changes(again, entities, day(1)) == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("{roadmap: 70%, bugz: 10%}", "unknown category 'bugz'"),
        ("{roadmap: 80%, bugs: 30%}", "targets add up to 110%, over 100%"),
        ("{roadmap: lots}", "is not a percentage like 60%"),
    ],
)
def test_bad_targets_are_field_errors(target: str, message: str) -> None:
    """Targets name known categories, are percentages and add up to at most 100%."""
    with pytest.raises(InvalidConfigError) as caught:
        load_roadmap_text(f"teams:\n  core: {{investment_target: {target}}}\n")
    assert message in str(caught.value)
