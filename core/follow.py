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

__all__ = ["follow_topics", "Apply", "Applied"]

log = structlog.get_logger(__name__)
Apply = Callable[[str, str, Any], None]  # topic, key, decoded value (None = deleted)
# (topic, partition) -> (offset, key) of the last record applied there
Applied = dict[tuple[str, int], tuple[int, str]]


async def follow_topics(
    bootstrap_servers: str,
    topics: Sequence[str],
    apply: Apply,
    client_id: str = "hub-follower",
    on_caught_up: Callable[[], None] | None = None,
    applied: Applied | None = None,
    on_stale: Callable[[], None] | None = None,
    on_behind: Callable[[int], None] | None = None,
) -> None:
    """``on_caught_up`` is called once, when every partition's position has reached the
    high watermark its last fetch reported: everything written before then is applied.

    ``applied`` is kept current record by record, so the caller can save its state with
    where it stands. Given filled in (a saved state loaded), each partition resumes at its
    last applied record, which is read again (applying a record twice changes nothing) to
    check it is still there and the same: a topic recreated, restored or cut by retention
    since the save makes ``on_stale`` run (the caller empties its state) and every
    partition is read again from the beginning.

    ``on_behind`` is told, after every fetch, how many records the follower has still to
    read (by the high watermarks the fetches reported): how current its state is."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=client_id,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,  # followers serve queries: show changes promptly
        # big fetches when reading a long topic: on the durable embedded log every fetch
        # lists the partition's objects, and at the default 1 MiB per partition that
        # listing, not the reading, bounded how fast a first start read a big changelog
        max_partition_fetch_bytes=8 * 1024 * 1024,
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
        applied = {} if applied is None else applied
        unchecked = {}  # partitions resumed from ``applied`` whose first record is due
        for tp in tps:
            saved = applied.get((tp.topic, tp.partition))
            if saved is not None:
                consumer.seek(tp, saved[0])
                unchecked[tp] = saved
        log.info("following", topics=list(topics), resumed=len(unchecked))
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            if unchecked and _stale(batches, unchecked):
                log.warning("saved state does not match the log: reading it whole", topics=topics)
                if on_stale is not None:
                    on_stale()
                applied.clear()
                unchecked.clear()
                await consumer.seek_to_beginning()
                continue
            for tp, records in batches.items():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    value = from_json(record.value) if record.value is not None else None
                    apply(tp.topic, key, value)
                    applied[tp.topic, tp.partition] = (record.offset, key)
            if on_behind is not None:
                on_behind(await _behind(consumer, tps))
            if on_caught_up is not None and await _at_end(consumer, tps):
                on_caught_up()
                on_caught_up = None
    finally:
        await consumer.stop()


def _stale(batches: dict[Any, list[Any]], unchecked: dict[Any, tuple[int, str]]) -> bool:
    """Whether a resumed partition's first record differs from the last one applied."""
    for tp, records in batches.items():
        saved = unchecked.pop(tp, None)
        if saved is not None:
            first = records[0]
            if (first.offset, first.key.decode() if first.key else "") != saved:
                return True
    return False


async def _behind(consumer: Any, tps: Sequence[Any]) -> int:
    behind = 0
    for tp in tps:
        highwater = consumer.highwater(tp)
        if highwater is not None:
            behind += max(0, highwater - await consumer.position(tp))
    return behind


async def _at_end(consumer: Any, tps: Sequence[Any]) -> bool:
    # The fetch response's high watermark, not ListOffsets: the former is exact on every
    # broker we run on, the latter under-reports on some Kafka-compatible ones.
    for tp in tps:
        highwater = consumer.highwater(tp)
        if highwater is None or await consumer.position(tp) < highwater:
            return False
    return True
