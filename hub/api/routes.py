"""Route table of the HTTP API. Each concept's views live in their own module."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.api import (
    alerts,
    connectors,
    customers,
    health,
    openapi,
    roadmap,
    teams,
    webhooks,
    workitems,
)

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["register"]


def register(app: HubApp) -> None:
    for module in (
        health,
        workitems,
        roadmap,
        customers,
        teams,
        connectors,
        webhooks,
        alerts,
        openapi,
    ):
        module.register(app)
