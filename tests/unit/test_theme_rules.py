"""EmergingTheme and UnaddressedDemand: pure functions of theme views built by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.config import AlertingConfig, parse_alerting
from alerts.rules import evaluate_rules
from hub.drift_inputs import drift_inputs
from projections.rollups import WorkIndex

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)


def theme(id_: str, **fields: Any) -> dict[str, Any]:
    base = {
        "id": id_, "name": id_, "unaddressed": True, "open": 3, "open_arr": 0.0,
        "first_seen": (NOW - timedelta(days=30)).isoformat(), "last_7_days": 0,
        "weekly_average_before": 0.0, "new_arr_7_days": 0.0,
    }  # fmt: skip
    return {**base, **fields}


def fired(
    themes: list[dict[str, Any]], config: AlertingConfig | None = None
) -> dict[str, set[str]]:
    config = config or AlertingConfig()
    inputs = drift_inputs({}, WorkIndex({}, NOW), NOW, config)
    inputs.themes = themes
    observed, failed = evaluate_rules(inputs, config)
    assert failed == set()
    names: dict[str, set[str]] = {}
    for o in observed:
        names.setdefault(o.labels["alertname"], set()).add(o.labels["theme"])
    return names


def test_a_theme_emerges_when_its_week_outgrows_the_month_before() -> None:
    """8 requests this week against 2 a week before: emerging; 8 against 5 (under twice)
    or 4 against none (under 5 requests): not; accounts new to it with 300k ARR count only
    when a threshold for that is set."""
    themes = [
        theme("rising", last_7_days=8, weekly_average_before=2.0),
        theme("steady", last_7_days=8, weekly_average_before=5.0),
        theme("few", last_7_days=4, weekly_average_before=0.0),
        theme("rich", last_7_days=2, new_arr_7_days=300_000.0),
    ]
    assert fired(themes).get("EmergingTheme") == {"rising"}
    config = parse_alerting({"rules": {"emerging_theme": {"min_new_arr": 250_000}}})
    assert fired(themes, config).get("EmergingTheme") == {"rising", "rich"}


def test_demand_nobody_plans_for_alerts_after_its_days_above_its_arr() -> None:
    """1.5M ARR waiting for 30 days with no roadmap link alerts; linked, younger than 14
    days or under 1M does not; the unclassified bucket never does."""
    themes = [
        theme("sso", open_arr=1_500_000.0),
        theme("linked", open_arr=1_500_000.0, unaddressed=False),
        theme("young", open_arr=1_500_000.0, first_seen=(NOW - timedelta(days=5)).isoformat()),
        theme("small", open_arr=900_000.0),
        theme("unclassified", open_arr=900_000.0, unaddressed=False),
    ]
    assert fired(themes).get("UnaddressedDemand") == {"sso"}
