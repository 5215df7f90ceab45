"""Roadmap rollups, request lifecycle and team resources, checked against hand-computed numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from projections.resources import team_resources, weekly_allocation
from projections.rollups import WorkIndex, request_view, roadmap_item_view
from tests.builders import build, ev, finish, item, start


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def scenario() -> list[Any]:
    return [
        ev(
            "roadmap_item.planned",
            "R1",
            "p1",
            at(1),
            title="Exports",
            teams=["core"],
            epics=["E-1"],
            committed_at=at(3).isoformat(),
            target_date="2026-02-01",
            budget=1000,
        ),
        ev("team.defined", "core", "t1", at(1), name="Core", capacity_fte=4, cost_rate=2000),
        ev("customer_account.upserted", "acme", "a1", at(1), name="Acme", arr=50000),
        ev("customer_account.upserted", "globex", "a1", at(1), name="Globex", arr=20000),
        item("E-1", at(2), item_type="Epic"),
        item("S-1", at(2), parent="E-1", estimate=3, assignee="ana"),
        item("S-2", at(2), parent="E-1", estimate=5, assignee="ana"),
        item("T-1", at(2), parent="S-2", estimate=1, assignee="bo"),  # sub-task: leaf under S-2
        item("S-3", at(6), parent="E-1", estimate=2),  # added after commitment
        item("U-1", at(2), assignee="ana"),  # unplanned
        start("S-1", at(5, 9)),
        finish("S-1", at(7, 12)),
        start("U-1", at(5, 9)),
        finish("U-1", at(5, 17)),
        start("T-1", at(6, 9)),
        ev(
            "customer_request.opened",
            "Z-1",
            "o",
            at(4),
            title="Need CSV",
            text="Need CSV\nFinance exports monthly",
            account="acme",
        ),
        ev(
            "customer_request.linked",
            "Z-1",
            "l",
            at(4, 10),
            relation="work_item",
            target={"kind": "work_item", "key": "S-1"},
        ),
        ev("customer_request.opened", "Z-2", "o", at(4), title="Also", account="globex"),
        ev(
            "customer_request.linked",
            "Z-2",
            "l",
            at(4, 11),
            relation="roadmap_item",
            target={"kind": "roadmap_item", "key": "R1"},
        ),
        ev("customer_request.escalated", "Z-2", "e", at(6, 12), team="core"),
    ]


NOW = at(9, 18)


def test_roadmap_progress_rolls_up_leaves_through_parents() -> None:
    """Leaves S-1 (done, 3), T-1 (in progress, 1), S-3 (to do, 2): 1/3 by count, 3/6 by estimate."""
    entities = build(scenario())
    view = roadmap_item_view("R1", entities, WorkIndex(entities, NOW))
    assert view is not None
    assert view["work_items"] == ["E-1", "S-1", "S-2", "S-3", "T-1"]
    progress = view["progress"]
    assert (progress["items_total"], progress["items_done"]) == (3, 1)
    assert progress["by_count"] == round(1 / 3, 4)
    assert (progress["estimate_done"], progress["estimate_total"]) == (3, 6)
    assert progress["by_estimate"] == 0.5
    assert view["stage"] == "in_progress"
    assert view["started_at"] == "2026-01-05T09:00:00.000000Z"


def test_scope_added_after_commitment_is_reported() -> None:
    """Committed on Jan 3 with S-1 and T-1; S-3 (created Jan 6) is scope added: +50%."""
    entities = build(scenario())
    scope = roadmap_item_view("R1", entities, WorkIndex(entities, NOW))["scope"]  # type: ignore[index]
    assert scope["committed_items"] == 2 and scope["added"] == ["S-3"]
    assert scope["growth_pct"] == 50.0 and scope["estimate_added"] == 2


def test_demand_counts_each_account_once_with_its_arr() -> None:
    """Z-1 (via S-1) and Z-2 (via the roadmap item) bring Acme and Globex: 70,000 ARR."""
    entities = build(scenario())
    demand = roadmap_item_view("R1", entities, WorkIndex(entities, NOW))["demand"]  # type: ignore[index]
    assert demand["accounts"] == ["acme", "globex"]
    assert demand["arr"] == 70000 and demand["requests_open"] == 2


def test_request_is_delivered_when_its_linked_work_is_done() -> None:
    """Z-1 opened Jan 4 09:00, delivered when S-1 was done Jan 7 12:00: 75h to delivery;
    the view carries what the customer wrote."""
    entities = build(scenario())
    index = WorkIndex(entities, NOW)
    z1 = request_view(entities["customer_request"]["Z-1"], entities, index)
    assert z1["stage"] == "delivered" and z1["arr"] == 50000
    assert z1["text"] == "Need CSV\nFinance exports monthly"
    assert z1["time_to_delivery_seconds"] == 75 * 3600
    z2 = request_view(entities["customer_request"]["Z-2"], entities, index)
    assert z2["stage"] == "linked" and z2["team"] == "core"


def test_a_persons_day_is_split_across_their_active_items() -> None:
    """Week 2: ana Mon splits S-1/U-1 (0.5 each), Tue-Wed S-1 alone; bo T-1 Tue-Fri.

    R1 effort = ana 2.5 days + bo 4 days = 6.5 days = 1.3 FTE; unplanned 0.5 day = 0.1 FTE.
    """
    entities = build(scenario())
    rows = team_resources("core", entities, WorkIndex(entities, NOW), at(5, 0), at(12, 0))
    assert [r["week"] for r in rows] == ["2026-W02"]
    week = rows[0]
    assert week["effort_by_initiative_fte"] == {"R1": 1.3}
    assert week["unplanned_fte"] == 0.1
    assert week["effort_fte"] == 1.4
    assert week["unplanned_share"] == round(0.1 / 1.4, 4)
    assert week["capacity_fte"] == 4
    assert week["throughput"] == 2 and week["wip"] == 1
    assert week["support_escalations"] == 1 and week["support_open"] == 1
    assert week["spend_by_initiative"] == {"R1": 2600.0}
    assert week["budgets"] == {"R1": 1000}
    assert week["flow_distribution"] == {"Story": 2}


def test_a_window_counts_only_the_days_of_a_stage_it_covers() -> None:
    """S-1 was in progress Mon Jan 5 to Wed Jan 7, U-1 on Mon Jan 5 only: a window from Tue
    Jan 6 00:00 gives ana's Tue and Wed to S-1 alone (2 person-days) and nothing to U-1; a
    window opening Mon 18:00, after U-1 was finished at 17:00, gives U-1 nothing either
    (the stage and the window share a day but no moment), so ana's Monday is S-1's alone:
    2 whole days, not 1.5. T-1, still in progress, counts up to the window's end. The days
    are summed into their ISO week."""
    entities = build(scenario())
    index = WorkIndex(entities, NOW)
    tuesday = weekly_allocation(entities, index, at(6, 0), at(8, 0))
    assert {week: dict(items) for week, items in tuesday.items()} == {
        "2026-W02": {"S-1": 2.0, "T-1": 2.0}
    }
    evening = weekly_allocation(entities, index, at(5, 18), at(7, 0))
    assert {week: dict(items) for week, items in evening.items()} == {
        "2026-W02": {"S-1": 2.0, "T-1": 1.0}
    }


def test_a_request_for_work_already_done_is_delivered_when_it_is_linked() -> None:
    """S-1 was done Jan 7 12:00; Z-3 opened Jan 8 09:00 and linked to it Jan 8 15:00 is
    delivered at the link (6 h), never before it was asked for."""
    linked = ev(
        "customer_request.linked",
        "Z-3",
        "l",
        at(8, 15),
        relation="work_item",
        target={"kind": "work_item", "key": "S-1"},
    )
    opened = ev("customer_request.opened", "Z-3", "o", at(8), title="CSV?", account="acme")
    entities = build([*scenario(), opened, linked])
    z3 = request_view(entities["customer_request"]["Z-3"], entities, WorkIndex(entities, NOW))
    assert z3["stage"] == "delivered"
    assert z3["delivered_at"] == "2026-01-08T15:00:00.000000Z"
    assert z3["time_to_delivery_seconds"] == 6 * 3600
