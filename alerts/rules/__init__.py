"""Drift rules: the projections compared with the roadmap, as observations of drift.

Rules are pure: a ``DriftInputs`` (folded entities, the plan, ``now``) in, the conditions
that hold right now out. Whether a condition has held long enough to fire, and who hears
about it, is the engine's business (``alerts.engine``, ``alerts.dispatch``).

Each observation's labels identify it (alertname, team, roadmap_item, severity), so the
same drift seen on the next evaluation has the same fingerprint; its annotations carry the
numbers behind it and links to Jira and the hub API. One module per family of rules;
importing this package registers them all, in this order.
"""

from __future__ import annotations

from alerts.rules import (  # noqa: F401  (registers the rules)
    delivery,
    demand,
    effort,
    flow,
    schedule,
    themes,
)
from alerts.rules.registry import RULES, DriftRule, Observation, evaluate_rules, fingerprint

__all__ = ["RULES", "DriftRule", "Observation", "evaluate_rules", "fingerprint"]
