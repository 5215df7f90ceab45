"""Inhibition: a firing alert that explains others mutes them (Alertmanager's rules).

E.g. a team over its WIP limit explains its items' forecast slips: page about the cause,
not every symptom. Sources must be firing; an alert never inhibits itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from alerts.config import InhibitRule
from alerts.matchers import matches_all

__all__ = ["inhibited_by"]


def inhibited_by(
    alert: Mapping[str, Any], firing: Iterable[Mapping[str, Any]], rules: Iterable[InhibitRule]
) -> list[str]:
    labels = alert["labels"]
    sources = []
    firing = list(firing)
    for rule in rules:
        if not matches_all(rule.target_matchers, labels):
            continue
        for source in firing:
            if source["fingerprint"] == alert["fingerprint"]:
                continue
            if not matches_all(rule.source_matchers, source["labels"]):
                continue
            if all(source["labels"].get(n) == labels.get(n) for n in rule.equal):
                sources.append(source["fingerprint"])
    return sorted(set(sources))
