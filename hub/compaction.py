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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import structlog

from core.log_reader import record_copies
from core.publish import RecordCopy, SyncPublisher
from core.topics import TOPICS, Topic, delete_topics, list_topics, recreate_topic

__all__ = ["COMPACTED", "Compacted", "compact"]

log = structlog.get_logger(__name__)

COMPACTED: tuple[Topic, ...] = tuple(t for t in TOPICS if t.compacted)
STAGING_SUFFIX = ".compacting"
MARKER = b"__hub_compaction_complete__"
REPLICATION = 1  # compaction is for the embedded broker, a single node


@dataclass(frozen=True)
class Compacted:
    """One topic's rewrite: records before and after."""

    topic: str
    before: int
    after: int


def _records(bootstrap: str, topic: str) -> Iterator[tuple[int, RecordCopy]]:
    return record_copies(bootstrap, topic, client_id="hub-compaction")


def _latest_offsets(bootstrap: str, topic: str) -> tuple[dict[tuple[int, bytes], int], int]:
    """Each live key's last offset (tombstoned keys dropped), and how many records the
    topic holds: only keys and offsets are kept, so a big topic fits in memory."""
    last: dict[tuple[int, bytes], int] = {}
    total = 0
    for offset, record in _records(bootstrap, topic):
        total += 1
        if record.key is None:
            continue
        slot = (record.partition, record.key)
        if record.value is None:
            last.pop(slot, None)
        else:
            last[slot] = offset
    return last, total


def _is_latest(latest: dict[tuple[int, bytes], int]) -> Callable[[int, RecordCopy], bool]:
    return lambda offset, r: latest.get((r.partition, r.key or b"")) == offset


def _copy(bootstrap: str, source: str, target: str, keep: Callable[[int, RecordCopy], bool]) -> int:
    """Stream the records of ``source`` that ``keep`` takes into ``target``, in order."""
    with SyncPublisher(bootstrap, origin="compaction", client_id="hub-compaction") as out:
        return out.copy(
            RecordCopy(target, r.partition, r.key, r.value, r.timestamp_ms, r.headers)
            for offset, r in _records(bootstrap, source)
            if keep(offset, r)
        )


def _finish(bootstrap: str, topic: Topic, staging: str, partitions: int) -> None:
    complete = any(r.key == MARKER for _, r in _records(bootstrap, staging))
    if complete:  # the marker is written only after everything else was acknowledged
        recreate_topic(bootstrap, topic.name, partitions, REPLICATION, compacted=True)
        _copy(bootstrap, staging, topic.name, lambda _, r: r.key != MARKER)
    delete_topics(bootstrap, [staging])  # cut short before it was complete: topic intact


def compact(
    bootstrap: str, topics: Iterable[Topic] = COMPACTED, *, min_garbage: int = 1000
) -> list[Compacted]:
    """Rewrite each topic holding at least ``min_garbage`` superseded records (and more of
    them than live ones) to its latest values; finish any rewrite a crash interrupted."""
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
        latest, total = _latest_offsets(bootstrap, topic.name)
        garbage = total - len(latest)
        if garbage < min_garbage or garbage < len(latest):
            continue
        recreate_topic(bootstrap, staging, partitions, REPLICATION, compacted=False)
        _copy(bootstrap, topic.name, staging, _is_latest(latest))
        marker = RecordCopy(staging, 0, MARKER, b"1", int(time.time() * 1000))
        with SyncPublisher(bootstrap, origin="compaction", client_id="hub-compaction") as out:
            out.copy([marker])
        _finish(bootstrap, topic, staging, partitions)
        log.info("compacted", topic=topic.name, records_before=total, after=len(latest))
        done.append(Compacted(topic.name, total, len(latest)))
    return done
