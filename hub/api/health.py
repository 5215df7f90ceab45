"""``GET /health`` and ``GET /metrics``: is the hub alive, connected and keeping up?"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
from faust.web import Request, Response, View

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["register", "worker_state", "consumer_lag"]

_PROBE_TTL = 2.0


def worker_state(app: HubApp) -> str:
    if not app.started:
        return "starting"
    if app.rebalancing:
        return "rebalancing"
    if getattr(app, "in_recovery", False):
        return "recovering"
    if not app.assignor.assigned_actives():
        return "joining"
    return "running"


async def consumer_lag(app: HubApp) -> dict[str, int]:
    """Records on each source topic not yet folded, over the partitions this worker owns."""
    lag: dict[str, int] = await app.fold_loop.lag()  # type: ignore[attr-defined]
    for topic, value in lag.items():
        app.metrics.fold_lag.labels(topic).set(value)
    return lag


class _BrokerProbe:
    """Cache the reachability answer briefly so a scraping loop cannot hammer the broker."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._checked_at = 0.0
        self._answer: tuple[bool, str | None] = (False, "not checked yet")

    async def check(self) -> tuple[bool, str | None]:
        if time.monotonic() - self._checked_at > _PROBE_TTL:
            client = AIOKafkaClient(
                bootstrap_servers=self.bootstrap_servers,
                request_timeout_ms=2000,
                client_id="hub-health",
            )
            try:
                await asyncio.wait_for(client.bootstrap(), timeout=3)
                self._answer = (True, None)
            except (KafkaError, OSError, TimeoutError) as exc:
                self._answer = (False, f"broker at {self.bootstrap_servers}: {exc!r}")
            finally:
                await client.close()
            self._checked_at = time.monotonic()
        return self._answer


def register(app: HubApp) -> None:
    probe = _BrokerProbe(app.bootstrap_servers)

    @app.page("/health")
    async def health(self: View, request: Request) -> Response:
        reachable, problem = await probe.check()
        state = worker_state(app)
        body: dict[str, Any] = {
            "status": "ok" if reachable and state == "running" else "degraded",
            "broker": {"reachable": reachable, "error": problem},
            "worker": {
                "state": state,
                "assigned_partitions": len(app.consumer.assignment()) if app.started else 0,
            },
            "lag": await consumer_lag(app) if app.started else {},
        }
        return self.json(body, status=200 if reachable else 503)

    @app.page("/metrics")
    async def metrics(self: View, request: Request) -> Response:
        if app.started:
            await consumer_lag(app)
        app.metrics.mirror_connectors(app.connect_state.status)
        return self.bytes(app.metrics.render(), content_type="text/plain; version=0.0.4")
