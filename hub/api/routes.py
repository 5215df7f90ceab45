"""Every route of the worker's web server, and where they are mounted.

Each concept's routes live in their own module as a ``Routes``; a new module is one entry
in ``MODULES`` (a dashboard page module: one entry in ``hub.dashboard.PAGES``). The
OpenAPI document is built from the same list, leaving the dashboard's pages out.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.api import (
    alerts,
    connectors,
    customers,
    delivery,
    health,
    roadmap,
    teams,
    themes,
    webhooks,
    workitems,
)
from hub.api.declare import Call, Route, Routes
from hub.api.middleware import hub_middleware
from hub.api.openapi import document
from hub.dashboard import PAGES

if TYPE_CHECKING:
    from hub.services import Services

__all__ = ["all_routes", "canonical", "mount", "openapi_document"]

SPEC = Routes("meta")


@SPEC.get("/api/v1/openapi.json", "This document: every operation the API serves")
async def openapi_json(call: Call) -> Any:
    return openapi_document()


MODULES: tuple[Routes, ...] = (
    health.ROUTES,
    workitems.ROUTES,
    roadmap.ROUTES,
    customers.ROUTES,
    teams.ROUTES,
    delivery.ROUTES,
    connectors.ROUTES,
    webhooks.ROUTES,
    alerts.ROUTES,
    themes.ROUTES,
    SPEC,
    *PAGES,
)


def all_routes() -> list[Route]:
    return [route for module in MODULES for route in module.routes]


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    return document(all_routes())


def canonical(path: str) -> str:
    """The path as aiohttp names its resource: ``/static/{name:.+}`` is ``/static/{name}``."""
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)


def mount(web_app: web.Application, services: Services) -> None:
    """Add the middleware (auth, errors, metrics) and every declared route to ``web_app``."""
    public = {canonical(route.path) for route in all_routes() if route.public}
    pages = {canonical(route.path) for route in all_routes() if route.page}
    web_app.middlewares.append(
        hub_middleware(services.api_token, services.metrics, public, pages, services.sessions)
    )
    for route in all_routes():
        web_app.router.add_route(route.method, route.path, route.bind(services))
