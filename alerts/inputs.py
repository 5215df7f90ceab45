"""What the drift rules read: the portfolio as plain data, computed once per evaluation.

The rules never fold or query projections themselves; the application shell reads the
projections into a ``DriftInputs`` (``hub.drift_inputs``) and hands it over. That keeps
every rule a pure function of data that a test can build by hand, and keeps this package
free of any dependency but the kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol

__all__ = ["DriftInputs", "EMPTY_INDEX", "WorkIndexView", "planned_fte"]


class WorkIndexView(Protocol):
    """The part of the work-item index the rules read: stable fields and the hierarchy."""

    @property
    def stable(self) -> Mapping[str, Mapping[str, Any]]: ...

    @property
    def children(self) -> Mapping[str, Any]: ...


class _NoIndex:
    """The index of inputs carried without the portfolio (a digest needs only the
    aggregates): nothing in it."""

    @property
    def stable(self) -> Mapping[str, Mapping[str, Any]]:
        return {}

    @property
    def children(self) -> Mapping[str, Any]:
        return {}


EMPTY_INDEX: WorkIndexView = _NoIndex()


@dataclass
class DriftInputs:
    """Everything the rules read, computed once per evaluation."""

    entities: Mapping[str, Mapping[str, dict[str, Any]]]
    index: WorkIndexView
    now: datetime
    external_url: str
    items: dict[str, dict[str, Any]]  # roadmap item id -> view (open or not)
    plans: dict[str, dict[str, Any]]  # roadmap item id -> current plan
    teams: dict[str, dict[str, Any]]  # team -> current definition
    weeks: dict[str, list[dict[str, Any]]]  # team -> resource rows, oldest first, complete
    throughput: dict[str, list[int]]  # team -> done items per complete week, oldest first
    current_week: dict[str, dict[str, Any]] = field(default_factory=dict)
    # roadmap item id -> ISO week -> the plan as it stood at that week's end
    weekly_plans: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    week_ends: dict[str, datetime] = field(default_factory=dict)  # ISO week -> its last moment
    # customer request key -> (linked roadmap item ids, linked work item keys), current links
    request_links: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    # feedback themes with the demand behind each (hub.theme_service.theme_views)
    themes: list[dict[str, Any]] = field(default_factory=list)
    # team -> cycle-time distribution of its last 12 weeks (projections.flow.distribution)
    cycle_percentiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    # team -> its sprints' reports, oldest first (projections.sprints.sprint_report)
    sprints: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # team -> investment mix per complete week, oldest first (projections.investment)
    investment: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def aggregates(self) -> DriftInputs:
        """These inputs without the portfolio they were read from: what a forked
        computation sends back (the entities and index are the receiver's already)."""
        return replace(self, entities={}, index=EMPTY_INDEX)

    @property
    def today(self) -> date:
        return self.now.date()


def planned_fte(plan: Mapping[str, Any], team: str, moment: datetime) -> float | None:
    """The FTE ``plan`` gives ``team`` in ``moment``'s quarter, else its flat allocation."""
    quarter = f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"
    by_quarter = (plan.get("allocation_by_quarter") or {}).get(quarter) or {}
    if team in by_quarter:
        return float(by_quarter[team])
    flat = plan.get("planned_allocation") or {}
    return float(flat[team]) if team in flat else None
