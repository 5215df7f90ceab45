"""The drift rule registry: each rule declared once, with its alertname and settings model.

A rule is a pure function ``(DriftInputs, settings) -> observations``. ``@drift_rule``
names it (the function's name is its key in ``alerting.yaml``'s ``rules:``), gives its
alertname and the settings model that key holds; ``evaluate_rules`` runs every registered
rule with its settings from the config and labels what it observes with the alertname.
A new rule is one decorated function in its family's module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote

import structlog

from alerts.config import AlertingConfig, Rules, RuleSettings
from alerts.inputs import DriftInputs
from core.stages import OPEN_ROADMAP_STAGES

__all__ = [
    "DriftRule",
    "Observation",
    "RULES",
    "drift_rule",
    "evaluate_rules",
    "fingerprint",
    "observe",
]

log = structlog.get_logger(__name__)
S = TypeVar("S", bound=RuleSettings)


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


@dataclass(frozen=True)
class DriftRule:
    """One registered rule: its config key, alertname, settings model and check."""

    name: str
    alertname: str
    settings: type[RuleSettings]
    check: Callable[[DriftInputs, Any], Iterable[Observation]]

    def observe(self, inputs: DriftInputs, config: AlertingConfig) -> list[Observation]:
        settings = getattr(config.rules, self.name)
        return [
            dataclasses.replace(o, labels={"alertname": self.alertname, **o.labels})
            for o in self.check(inputs, settings)
        ]


RULES: dict[str, DriftRule] = {}


def drift_rule(
    alertname: str, settings: type[S]
) -> Callable[
    [Callable[[DriftInputs, S], Iterable[Observation]]],
    Callable[[DriftInputs, S], Iterable[Observation]],
]:
    """Register the decorated function as the rule ``alertname`` with ``settings``.

    The settings model must be what ``Rules`` holds under the function's name, so a rule
    cannot be registered without its ``alerting.yaml`` section, nor twice.
    """

    def register(
        check: Callable[[DriftInputs, S], Iterable[Observation]],
    ) -> Callable[[DriftInputs, S], Iterable[Observation]]:
        name = check.__name__
        declared = Rules.model_fields.get(name)
        if declared is None or declared.annotation is not settings:
            raise TypeError(f"rule {name}: Rules.{name} must be declared as {settings.__name__}")
        if name in RULES or any(r.alertname == alertname for r in RULES.values()):
            raise TypeError(f"rule {name} ({alertname}) is registered twice")
        RULES[name] = DriftRule(name, alertname, settings, check)
        return check

    return register


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
            observed.extend(rule.observe(inputs, config))
        except Exception:
            log.exception("drift rule failed", rule=name)
            failed.add(rule.alertname)
    return observed, failed


# --- what the rules share --------------------------------------------------------------


def observe(
    settings: RuleSettings,
    *,
    team: str,
    summary: str,
    description: str,
    value: float,
    links: dict[str, str],
    roadmap_item: str | None = None,
    theme: str | None = None,
    category: str | None = None,
) -> Observation:
    """An observation with the labels every rule gives (the registry adds the alertname)."""
    labels: dict[str, str] = {"severity": settings.severity}
    if team:
        labels["team"] = team
    if roadmap_item:
        labels["roadmap_item"] = roadmap_item
    if theme:
        labels["theme"] = theme
    if category:
        labels["category"] = category
    return Observation(
        labels=labels,
        annotations={"summary": summary, "description": description, **links},
        value=float(value) if math.isfinite(value) else -1.0,
        for_seconds=settings.for_.total_seconds(),
        keep_firing_for_seconds=settings.keep_firing_for.total_seconds(),
    )


def days_between(from_day: str | date, to_day: date) -> int:
    start = from_day if isinstance(from_day, date) else date.fromisoformat(from_day[:10])
    return (to_day - start).days


def primary_team(view: Mapping[str, Any]) -> str:
    return view["teams"][0] if view.get("teams") else ""


def item_links(inputs: DriftInputs, item_id: str) -> dict[str, str]:
    links = {"hub_url": f"{inputs.external_url}/api/v1/roadmap/items/{quote(item_id, safe='')}"}
    plan = inputs.plans.get(item_id) or {}
    for epic in plan.get("epics") or ():
        view = inputs.index.stable.get(epic)
        if view and view.get("url"):
            links["jira_url"] = view["url"]
            break
    return links


def team_links(inputs: DriftInputs, team: str) -> dict[str, str]:
    return {"hub_url": f"{inputs.external_url}/api/v1/teams/{quote(team, safe='')}/resources"}


def open_items(inputs: DriftInputs) -> Iterable[tuple[str, dict[str, Any], str]]:
    for key, view in sorted(inputs.items.items()):
        if view["stage"] in OPEN_ROADMAP_STAGES:
            yield key, view, primary_team(view)
