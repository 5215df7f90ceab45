"""The Faust application: broker, store and web server settings, nothing of the hub's own.

A factory, not a module-level app, because settings are built in ``main`` and passed in.
Broker timeouts are tightened from Faust's defaults: group joins then take seconds instead
of half a minute, on Apache Kafka and on the embedded broker alike. What the worker runs
on it (tables, tasks, routes) is wired in ``hub.wiring``; the app carries no services.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import faust
from aiohttp import web as aioweb
from faust.web.drivers.aiohttp import Web as AiohttpWeb

from core.settings import Settings
from core.transport import HubTransport

__all__ = ["HubApp", "build_app"]

WebSetup = Callable[[aioweb.Application], None]


class HubApp(faust.App):
    """Faust's app with the hub's transport, and a hook that mounts the hub's routes."""

    def __init__(self, app_id: str, *, web_setup: WebSetup, **options: Any) -> None:
        super().__init__(app_id, **options)
        self._web_setup = web_setup

    async def produce(self, topic: str, key: str | None, value: bytes | None) -> Any:
        """Queue one record on the app's producer; await the result for the broker's ack."""
        return await self.producer.send(
            topic, key.encode() if key else None, value, None, None, None
        )

    def _new_transport(self) -> Any:
        return HubTransport(self.conf.broker_consumer, self)

    def _new_web(self) -> Any:
        return _HubWeb(self)

    def on_webserver_init(self, web: Any) -> None:
        self._web_setup(web.web_app)


class _HubWeb(AiohttpWeb):
    """Faust's aiohttp server without its production index, which would take ``/`` (the
    dashboard's) to answer ``{"status": "OK"}``."""

    production_blueprints: ClassVar[Any] = []


def build_app(settings: Settings, bootstrap_servers: str, web_setup: WebSetup) -> HubApp:
    """The bare Faust app for ``settings``; ``web_setup`` adds routes and middleware."""
    brokers = [f"kafka://{server.strip()}" for server in bootstrap_servers.split(",")]
    return HubApp(
        settings.app_id,
        web_setup=web_setup,
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
        # The changelog takes every touched key's whole state once per batch. At Faust's
        # 16 KiB batches, sent at once, the durable embedded log stored one object per
        # tiny batch and took ~2.4 MB/s (measured at 1M events: the writes ran minutes
        # behind the fold, and a stop could not flush them in time). Half-MiB batches
        # lingering 20 ms stay within Kafka's default 1 MB message size.
        producer_max_batch_size=512 * 1024,
        producer_linger=0.02,
        broker_max_poll_records=5_000,
        consumer_max_fetch_size=8 * 1024 * 1024,
    )
