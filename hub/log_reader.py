"""Reading the event log from the beginning, outside any consumer group.

Time travel and replays read the source topics directly: the log is the source of truth,
so any past state can be rebuilt from it.
"""

from __future__ import annotations

from collections.abc import Iterator

import structlog

from hub.codec import decode
from hub.errors import SkippableError
from hub.events import Event
from hub.topics import CUSTOMERS, ROADMAP, WORKITEMS
from projections.tracking import Position

__all__ = ["read_events", "log_size", "SOURCE_TOPICS"]

log = structlog.get_logger(__name__)
SOURCE_TOPICS = (WORKITEMS.name, CUSTOMERS.name, ROADMAP.name)


def read_events(
    bootstrap_servers: str, topics: tuple[str, ...] = SOURCE_TOPICS, idle: float = 0.5
) -> Iterator[tuple[Event, Position]]:
    """Every decodable event on ``topics`` with its position, until the log goes quiet."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        client_id="hub-log-reader",
        max_poll_records=5000,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    try:
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        while True:
            batch = consumer.poll(timeout_ms=int(idle * 1000))
            if not batch:
                return
            for tp, records in batch.items():
                for record in records:
                    try:
                        event = decode(record.value)
                    except SkippableError:
                        continue  # the worker already dead-lettered it
                    yield event, Position(tp.topic, tp.partition, record.offset)
    finally:
        consumer.close()


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
