"""The hub's topics: a short, documented list, and which event goes where.

Events are keyed by their entity key, so every change to one entity lands on one
partition in order, and a fold keyed the same way needs no repartitioning.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

import structlog

from core.events import EntityKind

__all__ = [
    "Topic",
    "TOPICS",
    "WORKITEMS",
    "CUSTOMERS",
    "ROADMAP",
    "DEADLETTER",
    "ALERTING",
    "topic_for_kind",
    "delete_topics",
    "ensure_topics",
    "list_topics",
    "recreate_topic",
]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Topic:
    name: str
    purpose: str
    compacted: bool = False
    partitions: int | None = None  # fixed by what the topic is for, whatever the setting


WORKITEMS = Topic("hub.workitems", "work item changes, status transitions, worklogs, sprints")
CUSTOMERS = Topic("hub.customers", "accounts, deals and customer requests")
ROADMAP = Topic("hub.roadmap", "roadmap items and team definitions, as planned")
DEADLETTER = Topic("hub.deadletter", "records that could not be processed, with the reason")
ALERTING = Topic(
    "hub.alerting", "alert states, notification log, silences, deliveries", compacted=True
)
CONNECT_CONFIGS = Topic("hub.connect-configs", "connector configurations", compacted=True)
CONNECT_OFFSETS = Topic("hub.connect-offsets", "connector cursors", compacted=True)
CONNECT_STATUS = Topic("hub.connect-status", "connector states", compacted=True)
CONNECT_ASSIGNMENTS = Topic(
    "hub.connect-assignments",
    "no records: its partitions are the buckets connector runtimes share out as a group",
    partitions=12,
)

TOPICS: tuple[Topic, ...] = (
    WORKITEMS,
    CUSTOMERS,
    ROADMAP,
    DEADLETTER,
    ALERTING,
    CONNECT_CONFIGS,
    CONNECT_OFFSETS,
    CONNECT_STATUS,
    CONNECT_ASSIGNMENTS,
)

_BY_KIND: dict[EntityKind, Topic] = {
    "work_item": WORKITEMS,
    "customer_account": CUSTOMERS,
    "deal": CUSTOMERS,
    "customer_request": CUSTOMERS,
    "roadmap_item": ROADMAP,
    "team": ROADMAP,
    "sprint": WORKITEMS,
    "theme": ROADMAP,  # people's decisions about themes, beside the plan's
    "investment": ROADMAP,  # how work divides into investment categories: part of the plan
}


def topic_for_kind(kind: EntityKind) -> Topic:
    return _BY_KIND[kind]


def ensure_topics(bootstrap_servers: str, partitions: int, replication: int) -> list[str]:
    """Create whichever hub topics are missing; return the names it created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="hub-admin")
    try:
        existing = set(admin.list_topics())
        wanted = []
        for topic in TOPICS:
            if topic.name in existing:
                continue
            configs = {"cleanup.policy": "compact"} if topic.compacted else {}
            # Connector state must be readable by every instance: one partition keeps it ordered.
            count = topic.partitions or (1 if topic.compacted else partitions)
            wanted.append(NewTopic(topic.name, count, replication, topic_configs=configs))
        if wanted:
            with suppress(TopicAlreadyExistsError):  # another instance won the race
                admin.create_topics(wanted)
        created = [t.name for t in wanted]
        if created:
            log.info("topics created", topics=created)
        return created
    finally:
        admin.close()


def delete_topics(bootstrap_servers: str, names: list[str], timeout: float = 30.0) -> None:
    """Delete whichever of ``names`` exist, and return once the broker no longer lists them."""
    import time

    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="hub-admin")
    try:
        doomed = [n for n in names if n in set(admin.list_topics())]
        if not doomed:
            return
        admin.delete_topics(doomed)
        deadline = time.monotonic() + timeout
        while set(doomed) & set(admin.list_topics()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics {doomed} were not deleted within {timeout:.0f} s")
            time.sleep(0.2)
    finally:
        admin.close()


def recreate_topic(
    bootstrap_servers: str, name: str, partitions: int, replication: int, *, compacted: bool
) -> None:
    """``name`` empty: deleted if it exists, then created anew (tools that rewrite a topic)."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    delete_topics(bootstrap_servers, [name])
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="hub-admin")
    try:
        configs = {"cleanup.policy": "compact"} if compacted else {}
        admin.create_topics([NewTopic(name, partitions, replication, topic_configs=configs)])
    finally:
        admin.close()


def list_topics(bootstrap_servers: str) -> dict[str, int]:
    """Topic name -> partition count, for every topic on the broker."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="hub-admin")
    try:
        described = admin.describe_topics(sorted(admin.list_topics()))
        return {d.get("name", d.get("topic")): len(d["partitions"]) for d in described}
    finally:
        admin.close()


def read_topic(
    bootstrap_servers: str, topic: str, idle: float = 1.0
) -> list[tuple[bytes | None, bytes]]:
    """Every record on ``topic`` as (key, value), oldest first, for tools and inspection.

    Reads until the topic has been quiet for ``idle`` seconds rather than trusting the
    broker's reported end offsets, which not every Kafka-compatible broker reports exactly.
    """
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        client_id="hub-reader",
        group_id=None,
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list[tuple[int, int, bytes | None, bytes]] = []
        while True:
            batch = consumer.poll(timeout_ms=int(idle * 1000))
            if not batch:
                break
            for tp_records in batch.values():
                records.extend((r.timestamp, r.offset, r.key, r.value) for r in tp_records)
        records.sort(key=lambda r: (r[0], r[1]))
        return [(key, value) for _, _, key, value in records]
    finally:
        consumer.close()
