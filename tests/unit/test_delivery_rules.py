"""AgingWip, SprintOvercommit and InvestmentDrift: pure rules over inputs built by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.config import AlertingConfig, parse_alerting
from alerts.inputs import DriftInputs
from alerts.rules import Observation, evaluate_rules
from hub.drift_inputs import drift_inputs
from projections.rollups import WorkIndex
from tests.builders import build, finish, item, start

NOW = datetime(2026, 4, 1, 12, tzinfo=UTC)


def fired(inputs: DriftInputs, config: AlertingConfig, alertname: str) -> list[Observation]:
    observed, failed = evaluate_rules(inputs, config)
    assert failed == set()
    return [o for o in observed if o.labels["alertname"] == alertname]


def aging_inputs(config: AlertingConfig) -> DriftInputs:
    """core finished ten stories of 1..10 in-progress days in the last weeks; W-1 has been
    in progress 12 days, W-2 for 2; an epic in progress for 40 days is not an item of WIP."""
    events: list[Any] = [item("E-1", NOW - timedelta(days=60), item_type="Epic")]
    events.append(start("E-1", NOW - timedelta(days=40)))
    for n in range(1, 11):
        began = NOW - timedelta(days=30 + n)
        events += [item(f"S-{n}", began, parent="E-1"), start(f"S-{n}", began)]
        events.append(finish(f"S-{n}", began + timedelta(days=n)))
    for key, days in (("W-1", 12), ("W-2", 2)):
        events += [item(key, NOW - timedelta(days=20), parent="E-1")]
        events.append(start(key, NOW - timedelta(days=days)))
    entities = build(events)
    return drift_inputs(entities, WorkIndex(entities, NOW), NOW, config)


def test_aging_wip_names_the_items_older_than_the_teams_p85() -> None:
    """P85 of 1..10 days is 9: W-1 (12 days) fires for core, W-2 (2 days) and the epic
    do not; at P95 (10 days) still W-1; with too little history nothing is judged."""
    config = AlertingConfig()
    (alert,) = fired(aging_inputs(config), config, "AgingWip")
    assert alert.labels["team"] == "core" and alert.value == 1
    assert (
        "W-1 (12 d)" in alert.annotations["description"]
        and "9 days" in alert.annotations["description"]
    )
    strict = parse_alerting({"rules": {"aging_wip": {"percentile": 95}}})
    assert [o.value for o in fired(aging_inputs(strict), strict, "AgingWip")] == [1]
    thin = parse_alerting({"rules": {"aging_wip": {"min_history": 20}}})
    assert fired(aging_inputs(thin), thin, "AgingWip") == []


def sprint(name: str, accuracy: float | None, state: str = "closed") -> dict[str, Any]:
    return {"key": name, "name": name, "state": state, "numbers": {"planning_accuracy": accuracy}}


def empty_inputs(config: AlertingConfig) -> DriftInputs:
    return drift_inputs({}, WorkIndex({}, NOW), NOW, config)


def test_sprint_overcommit_needs_k_sprints_in_a_row_below_the_threshold() -> None:
    """Two closed sprints at 50% and 60% (under 70%) fire with their mean; one at 80% among
    the last two does not, nor does one sprint alone; the active sprint is not judged."""
    config = AlertingConfig()
    inputs = empty_inputs(config)
    inputs.sprints = {
        "core": [
            sprint("S1", 0.9),
            sprint("S2", 0.5),
            sprint("S3", 0.6),
            sprint("S4", 0.1, "active"),
        ],
        "edge": [sprint("E1", 0.5), sprint("E2", 0.8)],
        "solo": [sprint("O1", 0.2)],
    }
    (alert,) = fired(inputs, config, "SprintOvercommit")
    assert alert.labels["team"] == "core" and alert.value == 0.55
    assert "S2 50%, S3 60%" in alert.annotations["description"]


def week(share: float | None, target: float | None = 0.6) -> dict[str, Any]:
    gap = round(share - target, 4) if share is not None and target is not None else None
    row = {"category": "roadmap", "share": share, "target_share": target, "gap": gap}
    return {"week": "w", "categories": [row]}


def test_investment_drift_fires_per_category_off_target_every_week() -> None:
    """Roadmap at 30% against 60% for three weeks fires for core with the category label;
    a week within ten points (55%), too few weeks, or a week with no effort do not."""
    config = AlertingConfig()
    inputs = empty_inputs(config)
    inputs.investment = {
        "core": [week(0.3), week(0.35), week(0.3)],
        "near": [week(0.3), week(0.55), week(0.3)],
        "short": [week(0.3), week(0.3)],
        "idle": [week(0.3), week(None), week(0.3)],
    }
    (alert,) = fired(inputs, config, "InvestmentDrift")
    assert alert.labels["team"] == "core" and alert.labels["category"] == "roadmap"
    assert alert.value == -0.3 and "30%, 35%, 30%" in alert.annotations["description"]
