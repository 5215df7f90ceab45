"""``GET /health`` and ``GET /metrics``: is the hub alive, connected and keeping up?"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from hub.api.declare import Call, Reply, Routes

if TYPE_CHECKING:
    from hub.app import HubApp
    from hub.services import Services

__all__ = ["ROUTES", "worker_state", "consumer_lag"]

ROUTES = Routes("health")

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


async def consumer_lag(services: Services) -> dict[str, int]:
    """Records on each source topic not yet folded, over the partitions this worker owns."""
    lag: dict[str, int] = await services.fold_loop.lag()
    for topic, value in lag.items():
        services.metrics.fold_lag.labels(topic).set(value)
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


_PROBES: dict[str, _BrokerProbe] = {}


def _probe(bootstrap_servers: str) -> _BrokerProbe:
    """One cached probe per broker address, shared by every request."""
    return _PROBES.setdefault(bootstrap_servers, _BrokerProbe(bootstrap_servers))


@ROUTES.get(
    "/health",
    "Broker reachability, worker state and fold lag (no token)",
    public=True,
    responses={503: "The broker is unreachable"},
)
async def health(call: Call) -> Any:
    services = call.services
    app = services.app
    reachable, problem = await _probe(services.bootstrap_servers).check()
    state = worker_state(app)
    body: dict[str, Any] = {
        "status": "ok" if reachable and state == "running" else "degraded",
        "broker": {"reachable": reachable, "error": problem},
        "worker": {
            "state": state,
            "assigned_partitions": len(app.consumer.assignment()) if app.started else 0,
        },
        "lag": await consumer_lag(services) if app.started else {},
        # queries answer with everything in the log once this is caught up
        "read_model": {
            "caught_up": services.read_model.caught_up,
            "behind": services.read_model.behind,  # changelog records not read yet
            "entities": services.read_model.size(),
        },
    }
    return Reply(body, status=200 if reachable else 503)


@ROUTES.get(
    "/metrics",
    "Prometheus text exposition (no token)",
    public=True,
    media_type="text/plain",
)
async def metrics(call: Call) -> web.StreamResponse:
    services = call.services
    if services.app.started:
        await consumer_lag(services)
    return web.Response(
        body=services.metrics.render(),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )
