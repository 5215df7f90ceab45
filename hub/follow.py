"""Following topics from their beginning, outside any consumer group, forever.

For state every instance must see in full: the projection table's changelog (read model)
and the connector state topics. Keys and values are JSON-ish bytes; a ``None`` value is a
deletion (tombstone).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import structlog

__all__ = ["follow_topics", "Apply"]

log = structlog.get_logger(__name__)
Apply = Callable[[str, str, Any], None]  # topic, key, decoded value (None = deleted)


async def follow_topics(
    bootstrap_servers: str, topics: Sequence[str], apply: Apply, client_id: str = "hub-follower"
) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=client_id,
    )
    await consumer.start()
    try:
        tps: list[TopicPartition] = []
        while len({tp.topic for tp in tps}) < len(topics):
            await consumer.topics()  # refreshes cluster metadata
            tps = [
                TopicPartition(t, p)
                for t in topics
                for p in sorted(consumer.partitions_for_topic(t) or ())
            ]
            if len({tp.topic for tp in tps}) < len(topics):
                await asyncio.sleep(0.5)
        consumer.assign(tps)
        await consumer.seek_to_beginning()
        log.info("following", topics=list(topics))
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    value = json.loads(record.value) if record.value is not None else None
                    apply(tp.topic, key, value)
    finally:
        await consumer.stop()
