"""Wiring one worker: the Faust app, its projection table, alerting, connector state and
the HTTP API, each handed what it uses.

The one place that knows how the parts fit; every other module receives its dependencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from connectors.state import ConnectState
from connectors.webhooks import ReplayGuard
from core.metrics import Metrics
from core.publish import AsyncPublisher
from core.secrets import SecretResolver
from core.settings import Settings
from hub import alerting, projection_table
from hub.api import routes
from hub.app import HubApp, build_app
from hub.dashboard.session import SessionKeys
from hub.services import Services
from hub.theme_service import ThemeService

__all__ = ["Worker", "create_worker"]


@dataclass
class Worker:
    """A wired worker: the Faust app to run, and the services its routes are given."""

    app: HubApp
    services: Services = field(repr=False)


def create_worker(
    settings: Settings,
    bootstrap_servers: str,
    api_token: str,
    environ: Mapping[str, str] | None = None,
) -> Worker:
    """``environ`` is where connector secret references (``${env:NAME}``) resolve."""

    def web_setup(web_app: web.Application) -> None:
        # Called when the web server starts, long after ``services`` below is bound.
        routes.mount(web_app, services)

    app = build_app(settings, bootstrap_servers, web_setup)
    connect_state = ConnectState()
    metrics = Metrics(connector_status=lambda: connect_state.status)
    secrets = SecretResolver(environ or {})
    # One producer and one counter for the worker's writes; each writer keeps its origin.
    publisher = AsyncPublisher(app.produce, origin="api", metrics=metrics)
    worker_publisher = publisher.with_origin("worker")
    table = projection_table.register(app, settings, bootstrap_servers, metrics, worker_publisher)
    themes = ThemeService(table.read_model)
    alerts = alerting.register(
        app,
        settings,
        bootstrap_servers,
        table.read_model,
        metrics,
        secrets,
        worker_publisher,
        themes=themes,
    )

    @app.task
    async def follow_connect_state() -> None:
        await connect_state.follow(bootstrap_servers, "hub-api-connect")

    @app.task
    async def keep_themes() -> None:
        await themes.run()

    services = Services(
        app=app,
        settings=settings,
        bootstrap_servers=bootstrap_servers,
        api_token=api_token,
        metrics=metrics,
        secrets=secrets,
        publisher=publisher,
        connect_state=connect_state,
        read_model=table.read_model,
        fold_loop=table.fold_loop,
        alerting=alerts,
        webhook_guard=ReplayGuard(),
        sessions=SessionKeys(api_token),
        themes=themes,
    )
    return Worker(app, services)
