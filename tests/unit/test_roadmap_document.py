"""roadmap.yaml: validation with field paths, changes as events, history, JQL links."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.validation import InvalidConfigError
from projections.jql import JqlError, compile_jql
from projections.roadmap_document import (
    document_at,
    link_warnings,
    load_roadmap_text,
    parse_roadmap,
    roadmap_changes,
)
from projections.rollups import WorkIndex
from tests.builders import build, item

ROADMAP = """
teams:
  payments: {name: Payments, capacity_fte: 5, wip_limit: 6, timezone: Europe/Berlin,
             cost_rate: 4000, members: [ana, ben]}
  growth: {capacity_fte: 4}
items:
  - id: checkout-v2
    title: Checkout v2
    teams: [payments]
    planned_start: 2026-01-05
    target_date: 2026-03-31
    committed_at: 2026-01-02
    budget: 100000
    allocation: {payments: "40%"}
    links: {epics: [PAY-1], labels: [checkout], jql: "project = PAY AND labels = checkout"}
  - id: onboarding
    title: Onboarding
    teams: [growth, payments]
    allocation: {growth: {2026-Q1: 2, 2026-Q2: "50%"}, payments: 0.5}
"""
NOW = datetime(2026, 1, 10, tzinfo=UTC)


def test_a_valid_roadmap_converts_percentages_to_fte_per_team_and_quarter() -> None:
    """A valid roadmap turns percentage allocations into FTE per team and per quarter."""
    doc = load_roadmap_text(ROADMAP)
    events = roadmap_changes(doc, {}, NOW)
    by_key = {e.entity.key: e for e in events}
    assert [e.type for e in events].count("team.defined") == 2
    assert by_key["checkout-v2"].payload.planned_allocation == {"payments": 2.0}
    onboarding = by_key["onboarding"].payload
    assert onboarding.allocation_by_quarter == {
        "2026-Q1": {"growth": 2.0},
        "2026-Q2": {"growth": 2.0},
    }
    assert onboarding.planned_allocation == {"payments": 0.5}
    assert by_key["checkout-v2"].payload.committed_at == datetime(2026, 1, 2, tzinfo=UTC)
    assert by_key["payments"].payload.timezone == "Europe/Berlin"


def test_every_problem_is_reported_with_its_field_path() -> None:
    """An invalid roadmap reports every problem at once, each with its field path."""
    raw = {
        "teams": {"payments": {"capacity_fte": 5, "timezone": "Mars/Base"}},
        "items": [
            {"id": "a", "title": "A", "teams": ["ghosts"], "links": {"jql": "project ~ x"}},
        ],
    }
    with pytest.raises(InvalidConfigError) as caught:
        parse_roadmap(raw)
    fields = {p.field for p in caught.value.problems}
    assert fields == {"teams.payments.timezone", "items[0].links.jql"}

    raw = {
        "teams": {"payments": {"capacity_fte": 0}},
        "items": [
            {"id": "a", "title": "A", "teams": ["ghosts"]},
            {
                "id": "a",
                "title": "Again",
                "teams": ["payments"],
                "planned_start": "2026-02-01",
                "target_date": "2026-01-01",
                "allocation": {"payments": {"Q3": 1, "2026-Q1": "30%"}, "growth": 1},
            },
        ],
    }
    with pytest.raises(InvalidConfigError) as caught:
        parse_roadmap(raw)
    problems = {p.field: p.message for p in caught.value.problems}
    assert "unknown team 'ghosts'" in problems["items[0].teams[0]"]
    assert "appears twice" in problems["items[1].id"]
    assert problems["items[1].target_date"] == "is before planned_start"
    assert "2026-Q4" in problems["items[1].allocation.payments.Q3"]
    assert "capacity_fte" in problems["items[1].allocation.payments.2026-Q1"]
    assert "not among the item's teams" in problems["items[1].allocation.growth"]


def test_applying_the_same_roadmap_twice_changes_nothing_and_edits_are_versions() -> None:
    """Re-applying the same roadmap yields no events; an edit yields one change event, a new
    version.
    """
    doc = load_roadmap_text(ROADMAP)
    entities = build(roadmap_changes(doc, {}, NOW))
    assert roadmap_changes(doc, entities, NOW) == []

    edited = load_roadmap_text(ROADMAP.replace("2026-03-31", "2026-04-30"))
    later = datetime(2026, 2, 1, tzinfo=UTC)
    changes = roadmap_changes(edited, entities, later)
    assert [(e.type, e.entity.key) for e in changes] == [("roadmap_item.changed", "checkout-v2")]
    entities = build(changes, entities)

    # The plan as it stood is still there: drift is judged against it.
    assert document_at(entities, "2026-01-20T00:00:00.000000Z")["items"][0]["target_date"] == (
        "2026-03-31"
    )
    assert document_at(entities)["items"][0]["target_date"] == "2026-04-30"

    # Dropping an item removes it; putting it back plans it again.
    edited_text = ROADMAP.replace("2026-03-31", "2026-04-30")
    only_one = load_roadmap_text(edited_text.split("  - id: onboarding")[0])
    removal = roadmap_changes(only_one, entities, later)
    assert [(e.type, e.entity.key) for e in removal] == [("roadmap_item.removed", "onboarding")]
    entities = build(removal, entities)
    assert [i["id"] for i in document_at(entities)["items"]] == ["checkout-v2"]
    back = roadmap_changes(edited, entities, datetime(2026, 3, 1, tzinfo=UTC))
    assert [(e.type, e.entity.key) for e in back] == [("roadmap_item.planned", "onboarding")]
    entities = build(back, entities)
    assert [i["id"] for i in document_at(entities)["items"]] == ["checkout-v2", "onboarding"]


def test_a_retried_apply_yields_the_same_event_ids() -> None:
    """Applying the same roadmap again later yields the same deterministic event ids."""
    doc = load_roadmap_text(ROADMAP)
    first = [e.event_id for e in roadmap_changes(doc, {}, NOW)]
    again = [e.event_id for e in roadmap_changes(doc, {}, datetime(2026, 1, 11, tzinfo=UTC))]
    assert first == again


def test_dangling_links_and_undefined_teams_are_reported() -> None:
    """Links to work items that do not exist and undefined teams come back as warnings."""
    when = datetime(2026, 1, 3, tzinfo=UTC)
    entities = build(
        [
            item("PAY-1", when, project="PAY", team="payments", item_type="Epic"),
            item("OPS-1", when, project="OPS", team="platform"),
        ]
    )
    doc = load_roadmap_text(ROADMAP)
    index = WorkIndex(entities, NOW)
    warnings = {w.field: w.message for w in link_warnings(doc, entities, index)}
    assert "PAY-1" not in str(warnings)
    assert warnings["items[0].links.labels[0]"] == "no work item carries label 'checkout'"
    assert warnings["items[0].links.jql"] == "matches no known work item"
    assert "'platform'" in warnings["teams"]


def test_jql_subset_selects_work_items() -> None:
    """The supported JQL subset selects work items by project, labels, type, parent, status and
    component.
    """
    view = {
        "key": "PAY-3",
        "project": "PAY",
        "labels": ["checkout", "web"],
        "type": "Story",
        "parent": "PAY-1",
        "status": "In Progress",
        "components": ["api"],
        "fix_versions": [],
    }

    def matches(jql: str) -> bool:
        return compile_jql(jql)(view)

    assert matches('project = PAY AND labels in (checkout, "mobile") ORDER BY rank')
    assert matches('"Epic Link" = PAY-1 and component = API')
    assert matches("project = OPS OR (labels = web AND NOT status = Done)")
    assert matches("fixVersion is EMPTY and labels is not EMPTY")
    assert not matches("labels not in (web)")
    assert not matches("project != pay")
    for bad in ("project ~ PAY", "assignee = x", "project = ", "(project = PAY"):
        with pytest.raises(JqlError):
            compile_jql(bad)


def test_roadmap_items_take_their_work_from_jql() -> None:
    """A roadmap item linked by JQL includes exactly the work items the query selects."""
    when = datetime(2026, 1, 3, tzinfo=UTC)
    entities = build(
        [
            item("PAY-7", when, project="PAY", labels=["checkout"]),
            item("PAY-8", when, project="PAY"),
            *roadmap_changes(load_roadmap_text(ROADMAP), {}, NOW),
        ]
    )
    index = WorkIndex(entities, NOW)
    plan = entities["roadmap_item"]["checkout-v2"]["versions"][-1]
    assert index.members("checkout-v2", plan) == {"PAY-7"}


def test_the_example_roadmap_and_alerting_files_are_valid() -> None:
    """roadmap.example.yaml and alerting.example.yaml load without problems."""
    from pathlib import Path

    from alerts.config import load_alerting

    root = Path(__file__).resolve().parents[2]
    doc = load_roadmap_text((root / "roadmap.example.yaml").read_text())
    assert [i.id for i in doc.items] == ["checkout-v2", "self-serve-onboarding"]
    config = load_alerting(root / "alerting.example.yaml")
    assert [r.name for r in config.receivers] == ["product-ops", "payments", "leadership"]
    assert config.rules.scope_creep.for_team("growth").percent == 35
