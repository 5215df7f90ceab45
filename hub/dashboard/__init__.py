"""The web dashboard: pages people open in the morning, served by every worker at ``/``.

Server-rendered HTML (Jinja2) with htmx for partial updates and Apache ECharts for
charts, both vendored under ``static/vendor`` (no CDN, no Node.js). Each page module
declares its routes like the API's (``hub.api.declare``) with ``page=True``: signed in by
session cookie, CSRF-checked, errors as pages. A new page is one module here and one
entry in ``PAGES``.
"""

from __future__ import annotations

from hub.api.declare import Routes
from hub.dashboard import alerts, assets, auth, connectors, demand, portfolio, teams, themes

__all__ = ["PAGES"]

PAGES: tuple[Routes, ...] = (
    auth.ROUTES,
    assets.ROUTES,
    portfolio.ROUTES,
    teams.ROUTES,
    demand.ROUTES,
    themes.ROUTES,
    alerts.ROUTES,
    connectors.ROUTES,
)
