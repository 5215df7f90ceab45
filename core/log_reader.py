"""Reading the event log from the beginning, outside any consumer group.

Time travel and replays read the source topics directly: the log is the source of truth,
so any past state can be rebuilt from it. Reading stops once the log has been quiet for
``idle`` seconds, rather than at the broker's reported end offsets, which not every
Kafka-compatible broker reports exactly.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from core.codec import decode
from core.errors import SkippableError
from core.events import Event
from core.publish import RecordCopy
from core.topics import CUSTOMERS, ROADMAP, WORKITEMS

__all__ = ["Position", "event_batches", "log_size", "record_copies", "SOURCE_TOPICS"]


@dataclass(frozen=True)
class Position:
    """Where in the log an event sat: the projection's bookmark."""

    topic: str
    partition: int
    offset: int

    @property
    def stream(self) -> str:
        return f"{self.topic}/{self.partition}"


SOURCE_TOPICS = (WORKITEMS.name, CUSTOMERS.name, ROADMAP.name)


async def event_batches(
    bootstrap_servers: str, topics: tuple[str, ...] = SOURCE_TOPICS, idle: float = 0.5
) -> AsyncIterator[list[tuple[Event, Position]]]:
    """Decodable events on ``topics`` with their positions, a fetched batch at a time."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", client_id="hub-log-reader",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    try:
        await consumer.topics()
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        if not tps:
            return
        consumer.assign(tps)
        await consumer.seek_to_beginning()
        while True:
            fetched = await consumer.getmany(timeout_ms=int(idle * 1000), max_records=10_000)
            if not fetched:
                return
            batch = []
            for tp, records in fetched.items():
                for record in records:
                    try:
                        event = decode(record.value)
                    except SkippableError:
                        continue  # the worker dead-letters it
                    batch.append((event, Position(tp.topic, tp.partition, record.offset)))
            yield batch
    finally:
        await consumer.stop()


def log_size(bootstrap_servers: str, topics: tuple[str, ...] = SOURCE_TOPICS) -> int:
    """Records on ``topics`` as the broker reports them: an estimate, for progress bars."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, client_id="hub-log-size"
    )
    try:
        tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        ends = consumer.end_offsets(tps)
        starts = consumer.beginning_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        consumer.close()


def record_copies(
    bootstrap_servers: str, topic: str, *, client_id: str, idle: float = 1.0
) -> Iterator[tuple[int, RecordCopy]]:
    """(offset, record as it was) for every record of ``topic``, streamed, each partition in
    order: for tools that copy a topic (backup, compaction), so a big one never has to fit
    in memory.

    The copy is of the topic as it stood when the read began. A live hub keeps writing
    (connector status, cursors), so "until quiet" alone may never come; reported end
    offsets alone may fall short on brokers that under-report them. A partition is done at
    its first record that is both past the end reported at the start and written after the
    start; any partition still open is done once the topic has been quiet ``idle`` seconds.
    """
    from kafka import KafkaConsumer, TopicPartition

    started_ms = int(time.time() * 1000)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        client_id=client_id,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends: dict[Any, int] = consumer.end_offsets(tps)
        open_tps = set(tps)
        while open_tps and (batch := consumer.poll(timeout_ms=int(idle * 1000), max_records=5000)):
            for tp, rows in sorted(batch.items(), key=lambda item: item[0].partition):
                if tp not in open_tps:
                    continue
                for r in rows:
                    if r.offset >= ends.get(tp, 0) and r.timestamp > started_ms:
                        open_tps.discard(tp)
                        consumer.pause(tp)
                        break
                    headers = [(name, value) for name, value in r.headers or []]
                    yield (
                        r.offset,
                        RecordCopy(topic, tp.partition, r.key, r.value, r.timestamp, headers),
                    )
    finally:
        consumer.close()
