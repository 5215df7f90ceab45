"""Keeping the compacted-by-design topics small on a broker that does not compact.

``hub.alerting`` and ``hub.connect-*`` are read as "the latest value per key". Apache
Kafka compacts them; the embedded broker keeps every record ever written, and they are
written all day (each sync's status and cursor, each alert evaluation's changes), so on
it they would grow without bound. It cannot delete records either, only topics. So the
hub rewrites such a topic to its latest values, crash-safely:

1. read the topic; its latest value per key (tombstoned keys dropped) go, in order, to a
   staging topic ``<topic>.compacting``, followed by a completion marker;
2. the topic is deleted, created again and filled from the staging topic;
3. the staging topic is deleted.

A crash before the marker leaves the original untouched (the staging topic is dropped at
the next start); after it, the next start redoes steps 2-3 from the staging topic. It runs
while nothing else reads or writes these topics: at ``hub up``'s start, before the worker
and the connector runtime, and when the supervisor pauses them for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from core.publish import RecordCopy, SyncPublisher
from core.topics import TOPICS, Topic

__all__ = ["COMPACTED", "Compacted", "compact"]

log = structlog.get_logger(__name__)

COMPACTED: tuple[Topic, ...] = tuple(t for t in TOPICS if t.compacted)
STAGING_SUFFIX = ".compacting"
MARKER = b"__hub_compaction_complete__"


@dataclass(frozen=True)
class Compacted:
    """One topic's rewrite: records before and after."""

    topic: str
    before: int
    after: int


def _read(bootstrap: str, topic: str) -> list[RecordCopy]:
    """Every record of a (one-partition) topic in offset order, read until quiet."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
        client_id="hub-compaction",
    )  # fmt: skip
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        if not partitions:
            return []
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        rows: list[tuple[int, int, RecordCopy]] = []
        while batch := consumer.poll(timeout_ms=1000, max_records=10_000):
            for tp, records in batch.items():
                rows.extend(
                    (tp.partition, r.offset, RecordCopy(
                        topic, tp.partition, r.key, r.value, r.timestamp,
                        [(n, v) for n, v in r.headers or []],
                    ))
                    for r in records
                )  # fmt: skip
        rows.sort(key=lambda row: (row[0], row[1]))
        return [copy for _, _, copy in rows]
    finally:
        consumer.close()


def _latest(records: Iterable[RecordCopy]) -> list[RecordCopy]:
    """The last record of each key, in the order those last records were written."""
    last: dict[tuple[int, bytes | None], RecordCopy] = {}
    for record in records:
        slot = (record.partition, record.key)
        last.pop(slot, None)  # re-inserted at the end: keeps write order
        last[slot] = record
    return [r for r in last.values() if r.value is not None and r.key is not None]


def _recreate(bootstrap: str, topic: str, partitions: int, *, compacted: bool) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="hub-compaction")
    try:
        if topic in admin.list_topics():
            admin.delete_topics([topic])
            deadline = time.monotonic() + 30
            while topic in admin.list_topics():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{topic} was not deleted within 30 s")
                time.sleep(0.2)
        configs = {"cleanup.policy": "compact"} if compacted else {}
        admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=configs)])
    finally:
        admin.close()


def _drop(bootstrap: str, topic: str) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="hub-compaction")
    try:
        if topic in admin.list_topics():
            admin.delete_topics([topic])
    finally:
        admin.close()


def _fill(bootstrap: str, topic: str, staged: list[RecordCopy]) -> None:
    """The staged latest values back into the recreated topic, partitions kept."""
    copies = [
        RecordCopy(topic, r.partition, r.key, r.value, r.timestamp_ms, r.headers)
        for r in staged
        if r.key != MARKER
    ]
    with SyncPublisher(bootstrap, origin="compaction", client_id="hub-compaction") as out:
        for start in range(0, len(copies), 5000):
            out.copy(copies[start : start + 5000])


def _finish(bootstrap: str, topic: Topic, staging: str, partitions: int) -> None:
    staged = _read(bootstrap, staging)
    if not any(r.key == MARKER for r in staged):  # written only after all the rest
        _drop(bootstrap, staging)  # cut short before it was complete: the topic is intact
        return
    _recreate(bootstrap, topic.name, partitions, compacted=True)
    _fill(bootstrap, topic.name, staged)
    _drop(bootstrap, staging)


def compact(
    bootstrap: str, topics: Iterable[Topic] = COMPACTED, *, min_garbage: int = 1000
) -> list[Compacted]:
    """Rewrite each topic holding at least ``min_garbage`` superseded records (and more of
    them than live ones) to its latest values; finish any rewrite a crash interrupted."""
    from core.topics import list_topics

    present = list_topics(bootstrap)
    done = []
    for topic in topics:
        staging = topic.name + STAGING_SUFFIX
        partitions = present.get(topic.name, 1)
        if staging in present:
            log.info("finishing an interrupted compaction", topic=topic.name)
            _finish(bootstrap, topic, staging, partitions)
        if topic.name not in list_topics(bootstrap):
            continue
        records = _read(bootstrap, topic.name)
        latest = _latest(records)
        garbage = len(records) - len(latest)
        if garbage < min_garbage or garbage < len(latest):
            continue
        _recreate(bootstrap, staging, partitions, compacted=False)
        marker = RecordCopy(staging, 0, MARKER, b"1", int(time.time() * 1000))
        with SyncPublisher(bootstrap, origin="compaction", client_id="hub-compaction") as out:
            staged = [
                RecordCopy(staging, r.partition, r.key, r.value, r.timestamp_ms, r.headers)
                for r in latest
            ]
            for start in range(0, len(staged), 5000):
                out.copy(staged[start : start + 5000])
            out.copy([marker])
        _finish(bootstrap, topic, staging, partitions)
        log.info("compacted", topic=topic.name, records_before=len(records), after=len(latest))
        done.append(Compacted(topic.name, len(records), len(latest)))
    return done
