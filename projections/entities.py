"""One fold for every entity: dispatch on the entity's kind.

The worker keeps one table keyed by ``kind/key`` (the topics' message key), so a single
agent folds all three source topics without repartitioning.
"""

from __future__ import annotations

from typing import Any

from core.events import Event
from projections.customers import fold_account, fold_deal, fold_request
from projections.roadmap import fold_investment, fold_roadmap_item, fold_team
from projections.sprints import fold_sprint
from projections.themes import fold_theme
from projections.tracking import Fold
from projections.work_items import fold_work_item

__all__ = ["fold_entity", "FOLDS"]

FOLDS: dict[str, Fold] = {
    "work_item": fold_work_item,
    "customer_account": fold_account,
    "deal": fold_deal,
    "customer_request": fold_request,
    "roadmap_item": fold_roadmap_item,
    "team": fold_team,
    "sprint": fold_sprint,
    "theme": fold_theme,
    "investment": fold_investment,
}


def fold_entity(state: dict[str, Any] | None, event: Event) -> dict[str, Any]:
    return FOLDS[event.entity.kind](state, event)
