"""The Faust application: topics, tables, agents and web views, wired from settings.

A factory, not a module-level app, because settings are built in ``main`` and passed in.
Broker timeouts are tightened from Faust's defaults: group joins then take seconds instead
of half a minute, on Apache Kafka and on the embedded broker alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
from aiohttp import web as aioweb

from connectors.secrets import SecretResolver
from connectors.state import STATE_TOPICS, ConnectState
from hub.follow import follow_topics
from hub.metrics import Metrics
from hub.settings import Settings

__all__ = ["HubApp", "create_app"]


class HubApp(faust.App):
    """Faust's app plus what the hub's views need: settings, token, metrics."""

    hub_settings: Settings
    api_token: str
    secrets: SecretResolver
    connect_state: ConnectState
    metrics: Metrics
    bootstrap_servers: str

    async def produce(self, topic: str, key: str | None, value: bytes | None) -> Any:
        """Queue one record on the app's producer; await the result for the broker's ack."""
        return await self.producer.send(
            topic, key.encode() if key else None, value, None, None, None
        )

    def _new_transport(self) -> Any:
        from hub.transport import HubTransport

        return HubTransport(self.conf.broker_consumer, self)

    def on_webserver_init(self, web: Any) -> None:
        from hub.api.middleware import hub_middleware

        web_app: aioweb.Application = web.web_app
        web_app.middlewares.append(hub_middleware(self))  # type: ignore[arg-type]


def create_app(
    settings: Settings,
    bootstrap_servers: str,
    api_token: str,
    environ: Mapping[str, str] | None = None,
) -> HubApp:
    """``environ`` is where connector secret references (``${env:NAME}``) resolve."""
    brokers = [f"kafka://{server.strip()}" for server in bootstrap_servers.split(",")]
    app = HubApp(
        settings.app_id,
        broker=brokers,
        store=settings.store,
        datadir=str(settings.data_dir / "worker"),
        autodiscover=False,
        processing_guarantee="at_least_once",
        producer_acks=-1,
        broker_session_timeout=settings.broker_session_timeout,
        broker_rebalance_timeout=settings.broker_rebalance_timeout,
        broker_heartbeat_interval=settings.broker_heartbeat_interval,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        key_serializer="raw",
        value_serializer="raw",
        web_bind=settings.api_host,
        web_host=settings.advertised_host,
        web_port=settings.api_port,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_tables_enabled=False,
        web_metrics_enabled=False,
        table_standby_replicas=0,
        recovery_consistency_check=settings.recovery_consistency_check,
        # Table recovery reads the changelog through Faust's consumer: let it take big batches.
        stream_buffer_maxsize=32_768,
        broker_max_poll_records=5_000,
        consumer_max_fetch_size=8 * 1024 * 1024,
    )
    app.hub_settings = settings
    app.bootstrap_servers = bootstrap_servers
    app.api_token = api_token
    app.metrics = Metrics()
    app.secrets = SecretResolver(environ or {})
    app.connect_state = ConnectState()

    @app.task
    async def follow_connect_state() -> None:
        await follow_topics(
            bootstrap_servers, STATE_TOPICS, app.connect_state.apply, "hub-api-connect"
        )

    from hub import agents, alerting
    from hub.api import routes

    agents.register(app)
    alerting.register(app)
    routes.register(app)
    return app
