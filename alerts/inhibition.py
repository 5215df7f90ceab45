"""Inhibition: a firing alert that explains others mutes them (Alertmanager's rules).

E.g. a team over its WIP limit explains its items' forecast slips: page about the cause,
not every symptom. Sources must be firing; an alert never inhibits itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from alerts.config import InhibitRule
from alerts.matchers import matches_all

__all__ = ["Inhibitors"]


class Inhibitors:
    """The firing alerts each rule may take as a source, filed under the values of the
    rule's ``equal`` labels: built once per tick (or per request), so judging every alert
    is one lookup per rule, not a pass over every firing alert (quadratic, and most of
    the dispatcher's time with a thousand alerts firing)."""

    def __init__(self, firing: Iterable[Mapping[str, Any]], rules: Iterable[InhibitRule]) -> None:
        self._rules = list(rules)
        self._sources: list[dict[tuple[str | None, ...], list[str]]] = []
        firing = list(firing) if self._rules else []
        for rule in self._rules:
            filed: dict[tuple[str | None, ...], list[str]] = defaultdict(list)
            for source in firing:
                if matches_all(rule.source_matchers, source["labels"]):
                    values = tuple(source["labels"].get(n) for n in rule.equal)
                    filed[values].append(source["fingerprint"])
            self._sources.append(filed)

    def of(self, alert: Mapping[str, Any]) -> list[str]:
        """Fingerprints of the firing alerts that inhibit ``alert``, sorted."""
        labels = alert["labels"]
        found: set[str] = set()
        for rule, filed in zip(self._rules, self._sources, strict=True):
            if not matches_all(rule.target_matchers, labels):
                continue
            values = tuple(labels.get(n) for n in rule.equal)
            found.update(fp for fp in filed.get(values, ()) if fp != alert["fingerprint"])
        return sorted(found)
