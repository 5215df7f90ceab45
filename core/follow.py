"""Following topics from their beginning, outside any consumer group, forever.

For state every instance must see in full: the projection table's changelog (read model)
and the connector state topics. Keys and values are JSON-ish bytes; a ``None`` value is a
deletion (tombstone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from pydantic_core import from_json

from core.transport import FETCH_MAX_WAIT_MS

__all__ = ["follow_topics", "Apply"]

log = structlog.get_logger(__name__)
Apply = Callable[[str, str, Any], None]  # topic, key, decoded value (None = deleted)


async def follow_topics(
    bootstrap_servers: str,
    topics: Sequence[str],
    apply: Apply,
    client_id: str = "hub-follower",
    on_caught_up: Callable[[], None] | None = None,
) -> None:
    """``on_caught_up`` is called once, when every partition's position has reached the
    high watermark its last fetch reported: everything written before then is applied."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=client_id,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,  # followers serve queries: show changes promptly
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
                    value = from_json(record.value) if record.value is not None else None
                    apply(tp.topic, key, value)
            if on_caught_up is not None and await _at_end(consumer, tps):
                on_caught_up()
                on_caught_up = None
    finally:
        await consumer.stop()


async def _at_end(consumer: Any, tps: Sequence[Any]) -> bool:
    # The fetch response's high watermark, not ListOffsets: the former is exact on every
    # broker we run on, the latter under-reports on some Kafka-compatible ones.
    for tp in tps:
        highwater = consumer.highwater(tp)
        if highwater is None or await consumer.position(tp) < highwater:
            return False
    return True
