"""Digests: roadmap health with reasons, allocation vs plan, alerts of the period; schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.config import AlertingConfig, DigestSchedule
from alerts.digest import (
    build_digest,
    digest_html,
    digest_slack,
    digest_text,
    due_digests,
    next_due,
)
from alerts.engine import advance
from alerts.receivers.slack import LIMITS
from alerts.rules import evaluate_rules
from hub.drift_inputs import drift_inputs
from projections.rollups import WorkIndex
from tests.builders import build, ev, item, start
from tests.unit.test_drift_rules import NOW, day, plan, team, worked


def test_a_digest_says_which_initiatives_are_off_track_and_why() -> None:
    """A digest marks each initiative on or off track with the alerts behind it and allocation per
    team.
    """
    entities = build(
        [
            team(capacity_fte=4, wip_limit=5),
            plan("late", target_date="2026-02-20", epics=["E-1"]),
            plan("fine", target_date="2026-12-31", epics=["E-2"], planned_allocation={"core": 1}),
            item("E-1", day(1, 5)),
            *worked("E-2", "ana", day(2, 16)),
            ev("team.defined", "growth", "t", day(1, 1), name="Growth", capacity_fte=2),
            plan("other", teams=["growth"], target_date="2026-12-31"),
        ]
    )
    config = AlertingConfig()
    inputs = drift_inputs(entities, WorkIndex(entities, NOW), NOW, config)
    observed, _ = evaluate_rules(inputs, config)
    alerts, _ = advance({}, observed, NOW - timedelta(days=1))
    alerts, _ = advance(alerts, observed, NOW)

    digest = build_digest(inputs, alerts, NOW - timedelta(days=7), team="core")
    statuses = {i["id"]: (i["status"], i["reasons"]) for i in digest["initiatives"]}
    assert statuses["late"] == ("off_track", ["Late: 12 days past its target date"])
    assert statuses["fine"] == ("on_track", [])
    assert "other" not in statuses  # another team's initiative
    assert digest["summary"] == {"on_track": 1, "at_risk": 0, "off_track": 1}
    (core,) = digest["allocation"]
    assert core["week"] == "2026-W09" and core["effort_fte"] == 1.0
    assert core["by_initiative"]["fine"] == {"planned_fte": 1.0, "actual_fte": 1.0}
    assert [a["alertname"] for a in digest["alerts_opened"]] == ["PastDue"]

    text = digest_text(digest)
    assert text.startswith("Roadmap digest, team core, 2026-03-04: 1 on track, 0 at risk, 1 off")
    assert "OFF TRACK Late (0/1 done, target 2026-02-20)" in text
    assert "fine: 1.0 FTE (planned 1)" in text
    assert "<table" in digest_html(digest)
    slack = digest_slack(digest)
    assert len(slack["blocks"]) <= LIMITS["blocks"]
    assert all(len(b["text"]["text"]) <= LIMITS["section_text"] for b in slack["blocks"][1:])

    leadership = build_digest(inputs, alerts, NOW - timedelta(days=7))
    assert {i["id"] for i in leadership["initiatives"]} == {"late", "fine", "other"}


def test_schedules_recur_in_the_digests_time_zone() -> None:
    """Digest schedules recur at local time in their time zone, across daylight saving changes."""
    weekly = DigestSchedule(
        name="w", receiver="r", weekday="mon", at="09:00", timezone="Europe/Berlin"
    )
    wednesday = datetime(2026, 3, 4, 12, tzinfo=UTC)
    assert next_due(weekly, wednesday) == datetime(2026, 3, 9, 8, tzinfo=UTC)  # 09:00 CET
    summer = next_due(weekly, datetime(2026, 6, 2, tzinfo=UTC))
    assert summer == datetime(2026, 6, 8, 7, tzinfo=UTC)  # 09:00 CEST
    daily = DigestSchedule(name="d", receiver="r", schedule="daily", at="17:30")
    assert next_due(daily, wednesday) == datetime(2026, 3, 4, 17, 30, tzinfo=UTC)
    assert next_due(daily, datetime(2026, 3, 4, 17, 30, tzinfo=UTC)) == datetime(
        2026, 3, 5, 17, 30, tzinfo=UTC
    )


def test_work_started_counts_toward_an_initiative() -> None:
    """An initiative whose linked work started shows as in progress in the digest."""
    entities = build(
        [team(), plan("r1", epics=["E-1"]), item("E-1", day(1, 5)), start("E-1", day(3, 2))]
    )
    inputs = drift_inputs(entities, WorkIndex(entities, NOW), NOW, AlertingConfig())
    digest = build_digest(inputs, {}, NOW - timedelta(days=1))
    assert digest["initiatives"][0]["stage"] == "in_progress"


def test_due_digests_per_integration_and_never_a_backlog_for_new_schedules() -> None:
    """Digests fall due per integration, and a newly seen schedule sends no backlog."""
    weekly = DigestSchedule(name="weekly", receiver="leads", weekday="mon", at="09:00")
    outputs = {"leads": ["email[0]", "slack[0]"]}
    monday = datetime(2026, 3, 9, 9, 0, 30, tzinfo=UTC)
    assert due_digests([weekly], {}, outputs, monday) == []  # first sight: nothing due
    sent = {
        "weekly": {
            "email[0]": "2026-03-02T09:00:00.000000Z",
            "slack[0]": "2026-03-09T09:00:00.000000Z",
        }
    }
    due = due_digests([weekly], sent, outputs, monday)
    assert [(s.name, name, moment) for s, name, moment in due] == [
        ("weekly", "email[0]", datetime(2026, 3, 9, 9, tzinfo=UTC))
    ]
    assert due_digests([weekly], sent, outputs, monday - timedelta(minutes=1)) == []


def test_the_leadership_digest_lists_the_top_themes_and_the_new_ones() -> None:
    """Without a team, the digest ranks themes by ARR (five at most, unclassified left out),
    names those first seen in the period, and says which are on no roadmap item."""
    config = AlertingConfig()
    inputs = drift_inputs({}, WorkIndex({}, NOW), NOW, config)
    old, new = (NOW - timedelta(days=40)).isoformat(), (NOW - timedelta(days=2)).isoformat()

    def theme(id_: str, arr: float, first: str, **more: object) -> dict[str, object]:
        return {"id": id_, "name": id_.upper(), "requests": 4, "open": 3, "arr": arr,
                "last_7_days": 2, "growth": 1, "unaddressed": False, "first_seen": first, **more}  # fmt: skip

    inputs.themes = [
        theme("sso", 900_000, old, unaddressed=True),
        *(theme(f"t{n}", 1000 * n, old) for n in range(6)),
        theme("exports", 50_000, new),
        theme("unclassified", 5_000_000, old),
    ]
    digest = build_digest(inputs, {}, NOW - timedelta(days=7))
    assert [t["id"] for t in digest["themes"]] == ["sso", "exports", "t5", "t4", "t3"]
    assert [t["id"] for t in digest["themes_new"]] == ["exports"]
    text = digest_text(digest)
    assert "- SSO: 4 requests (3 open), 900,000 ARR, 2 this week (+1); on no roadmap item" in text
    assert "New themes this period: 1" in text and "What customers ask for" in digest_html(digest)
    assert build_digest(inputs, {}, NOW - timedelta(days=7), team="core")["themes"] == []


def test_the_digest_gives_each_teams_planning_accuracy_and_investment_mix() -> None:
    """Per team: its last three closed sprints' planning accuracy (the active one left out)
    and its last full week's share per category against the target, in text and HTML."""
    config = AlertingConfig()
    inputs = drift_inputs({}, WorkIndex({}, NOW), NOW, config)

    def sprint(name: str, accuracy: float, state: str = "closed") -> dict[str, object]:
        numbers = {"planning_accuracy": accuracy, "velocity_points": 20.0}
        return {"key": name, "name": name, "state": state, "numbers": numbers}

    inputs.sprints = {
        "core": [sprint(f"S{n}", n / 10) for n in range(5, 9)] + [sprint("S9", 0.1, "active")]
    }
    mix = [
        {"category": "roadmap", "share": 0.45, "target_share": 0.6},
        {"category": "bugs", "share": 0.55, "target_share": None},
        {"category": "support", "share": 0.0, "target_share": None},
    ]
    inputs.investment = {"core": [{"week": "2026-W09", "effort_fte": 3.0, "categories": mix}]}
    digest = build_digest(inputs, {}, NOW - timedelta(days=7))
    (core,) = digest["delivery"]
    assert [s["name"] for s in core["sprints"]] == ["S6", "S7", "S8"]
    assert [c["category"] for c in core["investment"]] == ["roadmap", "bugs"]
    text = digest_text(digest)
    assert "- core planning accuracy: S6 60%, S7 70%, S8 80%" in text
    assert "- core investment 2026-W09: roadmap 45% (target 60%), bugs 55%" in text
    assert "core investment 2026-W09" in digest_html(digest)
