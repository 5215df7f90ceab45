"""Key lookups are served by the worker that owns the key; the others forward to it.

This is Kafka Streams' interactive-query pattern. A table key is its topic's message key,
so the Java client's partitioner (murmur2) tells which partition holds it; the worker with
that table partition active answers, and any other worker proxies the request there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust.types import TP
from faust.web import Request, Response, View
from kafka.partitioner.default import murmur2
from yarl import URL

from hub.api.errors import ApiError

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["forward_to_owner", "partition_for"]


def partition_for(key: str, partitions: int) -> int:
    """The partition the default Kafka partitioner (Java, kafka-python, aiokafka) picks."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def _owner_url(app: HubApp, topic: str, partition: int) -> str | None:
    for url, topics in app.assignor.tables_metadata().items():
        if partition in topics.get(topic, ()):
            return str(url)
    return None


async def forward_to_owner(
    app: HubApp, table: Any, key: str, view: View, request: Request
) -> Response | None:
    """The owner's response, or None when this worker owns ``key`` and should answer."""
    topic = table.changelog_topic.get_topic_name()
    partition = partition_for(key, app.hub_settings.topic_partitions)
    if TP(topic, partition) in app.assignor.assigned_actives():
        return None
    owner = _owner_url(app, topic, partition)
    if owner is None:
        raise ApiError(503, "rebalancing", "no worker owns this key right now; retry shortly")
    routed = request.url.with_host(URL(owner).host or "").with_port(URL(owner).port)
    async with app.http_client.request(
        method=request.method, headers=request.headers, url=routed
    ) as response:
        return view.text(
            await response.text(), content_type=response.content_type, status=response.status
        )
