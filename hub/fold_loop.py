"""The worker's fold loop: source partitions read in ``getmany`` batches, folded, written
once per touched key per batch.

Faust still decides which worker owns which partition (the projection table's changelog
partitions, assigned by its consumer group and recovered before this loop resumes) and
still holds the state (the table, its store and its changelog). The reading and folding
run outside Faust's per-event stream: measured on the pipeline benchmark, Faust's
per-event dispatch alone capped an agent that did nothing at ~0.3x a bare ``getmany``
loop, so no fold inside an agent could reach half the bare loop's speed.

Where to resume comes from the table, not from consumer-group offsets (the projection
tracks its own position): every batch ends with one checkpoint row per partition, written
after the batch's states to the same changelog partition. A recovered table therefore
holds every state up to its checkpoint, however much of the changelog's tail was lost, and
the loop re-reads from just after it; the folds skip what the states already reflect.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka.partitioner import murmur2
from faust.streams import _current_event

from core.log_reader import SOURCE_TOPICS, Position
from core.metrics import Metrics
from core.publish import AsyncPublisher, dead_letter_record
from core.topics import DEADLETTER
from core.transport import FETCH_MAX_WAIT_MS
from hub.projector import RawRecord, fold_batch
from projections.tracking import TRACKING_KEY, Fold

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["FoldLoop", "checkpoint_key", "is_checkpoint", "BATCH_SIZE"]

log = structlog.get_logger(__name__)

BATCH_SIZE = 20_000  # records per getmany: big batches while catching up, small when live
LIVE_BATCH = 1_000  # fewer records than this in a batch: live traffic, not a catch-up
DRAIN_EVERY = 100_000  # records folded between waits for the changelog while catching up
CHECKPOINT_PREFIX = "_checkpoint/"
State = dict[str, Any]


@lru_cache(maxsize=1024)
def checkpoint_key(partition: int, partitions: int) -> bytes:
    """A key the default (murmur2) partitioner sends to ``partition``, so the checkpoint
    lands in the changelog partition whose states it vouches for, after them."""
    n = 0
    while True:
        key = f"{CHECKPOINT_PREFIX}{partition}/{n}".encode()
        if (murmur2(key) & 0x7FFFFFFF) % partitions == partition:
            return key
        n += 1


def is_checkpoint(key: str) -> bool:
    return key.startswith(CHECKPOINT_PREFIX)


def resume_offsets(checkpoint: State | None, streams: Iterable[str]) -> dict[str, int | None]:
    """Next offset to read per ``topic/partition``; None means from the beginning."""
    positions = (checkpoint or {}).get("positions", {})
    return {s: positions[s] + 1 if s in positions else None for s in streams}


class FoldLoop:
    """Runs as an app task; paused from a revocation until the next recovery completes."""

    def __init__(
        self,
        app: HubApp,
        table: Any,
        fold: Fold,
        bootstrap_servers: str,
        metrics: Metrics,
        publisher: AsyncPublisher,
    ) -> None:
        """``app`` for its producer and assignment; dead letters go out through ``publisher``."""
        self.app, self.table, self.fold = app, table, fold
        self.bootstrap_servers, self.metrics, self.publisher = bootstrap_servers, metrics, publisher
        self.consumer: Any = None
        self.partitions = 0  # of each source topic, and of the changelog
        self.owned: set[int] = set()
        self._assignment: set[int] | None = None  # handed over by the last recovery
        self._running = asyncio.Event()
        self._lock = asyncio.Lock()  # held for a whole batch; a revocation waits for it
        # Decoded states of the keys this worker folded, so a hot key is not decoded from
        # the store on every batch. Cleared on revocation: ownership may move.
        self._cache: dict[str, State] = {}
        self._undrained = 0  # records folded since the changelog last caught up with them

    # --- ownership ---------------------------------------------------------------------

    async def on_revoked(self) -> None:
        self._running.clear()
        self._assignment = None
        async with self._lock:  # let the batch in hand finish and reach the table
            # ...and its changelog, before a new owner recovers from it: a state landing
            # after the new owner's checkpoint would hide events from its next recovery.
            await self.app.producer.flush()
            self._cache.clear()
            if self.consumer is not None:
                self.consumer.assign([])
            self.owned = set()

    def on_recovered(self) -> None:
        """The table holds the owned partitions' states: the loop may resume them. Called
        from inside Faust's recovery, so it only hands over; the loop does the seeking."""
        changelog = self.table.changelog_topic.get_topic_name()
        actives = self.app.assignor.assigned_actives()
        self._assignment = {tp.partition for tp in actives if tp.topic == changelog}
        self._running.set()

    async def _resume(self, owned: set[int]) -> None:
        """Read the owned partitions again from just after each one's checkpoint."""
        from aiokafka import TopicPartition

        self.consumer.assign([TopicPartition(t, p) for t in SOURCE_TOPICS for p in owned])
        for partition in sorted(owned):
            checkpoint = self.table.get(checkpoint_key(partition, self.partitions))
            streams = [f"{t}/{partition}" for t in SOURCE_TOPICS]
            for stream, offset in resume_offsets(checkpoint, streams).items():
                tp = TopicPartition(stream.rpartition("/")[0], partition)
                if offset is None:
                    await self.consumer.seek_to_beginning(tp)
                else:
                    self.consumer.seek(tp, offset)
        self.owned = owned
        log.info("folding partitions", partitions=sorted(owned))

    # --- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        from aiokafka import AIOKafkaConsumer

        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,  # ownership comes from Faust's group; positions from the table
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="hub-fold",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await self.consumer.start()
        try:
            self.partitions = await self._partition_count()
            while True:
                await self._running.wait()
                async with self._lock:
                    if not self._running.is_set():
                        continue
                    if self._assignment is not None:
                        owned, self._assignment = self._assignment, None
                        await self._resume(owned)
                    if not self.owned:
                        self._running.clear()
                        continue
                    batches = await self.consumer.getmany(timeout_ms=100, max_records=BATCH_SIZE)
                    if batches:
                        await self._fold(batches)
        finally:
            await self.consumer.stop()

    async def _partition_count(self) -> int:
        counts: set[int] = set()
        while not counts or 0 in counts:
            await self.consumer.topics()
            counts = {len(self.consumer.partitions_for_topic(t) or ()) for t in SOURCE_TOPICS}
            if 0 in counts:
                await asyncio.sleep(0.5)
        if len(counts) != 1:
            raise RuntimeError(f"source topics {SOURCE_TOPICS} must have equal partition counts")
        return counts.pop()

    def _load(self, key: str) -> State | None:
        state = self._cache.get(key)
        return state if state is not None else self.table.get(key.encode())

    async def _fold(self, batches: dict[Any, list[Any]]) -> None:
        records = [
            RawRecord(r.value, Position(tp.topic, tp.partition, r.offset))
            for tp, rs in batches.items()
            for r in rs
        ]
        result = fold_batch(records, self._load, self.fold)
        # States first, in position order (a changelog that loses its tail loses only the
        # newest writes); then dead letters, delivered; then each partition's checkpoint:
        # whatever a checkpoint covers is folded or dead-lettered for good.
        for key, state in sorted(result.states.items(), key=_newest_position):
            raw_key = key.encode()
            with _writing_to(_partition_of(state)):
                self.table[raw_key] = state
            self._cache[key] = state
        await self.publisher.publish(
            (DEADLETTER.name, None, self._dead_letter(record, reason))
            for record, reason in result.rejected
        )
        checkpoints: dict[int, dict[str, int]] = defaultdict(dict)
        for tp, rs in batches.items():
            checkpoints[tp.partition][f"{tp.topic}/{tp.partition}"] = rs[-1].offset
        for partition, positions in checkpoints.items():
            mark = checkpoint_key(partition, self.partitions)
            previous = self.table.get(mark) or {"positions": {}}
            with _writing_to(partition):
                self.table[mark] = {"positions": {**previous["positions"], **positions}}
        metrics = self.metrics
        for topic, count in Counter(r.position.topic for r in records).items():
            metrics.events_folded.labels(topic).inc(count)
        if result.duplicates:
            metrics.events_duplicate.labels(records[0].position.topic).inc(result.duplicates)
        # Table writes queue in Faust's buffer, then the Kafka producer's. Bounding only the
        # first let the fold run minutes ahead of its changelog at 1M events (measured:
        # folded in 70 s, gigabytes still to write): "caught up" was not, the read model
        # lagged, and a stop could not flush in time. Waiting for them after every batch
        # cost half the fold's speed (the writes no longer overlap the next fold), so the
        # loop waits after a live-sized batch (cheap, keeps queries fresh) and every
        # DRAIN_EVERY records while catching up: a bounded backlog, mostly overlapped.
        self._undrained += len(records)
        if self._undrained >= DRAIN_EVERY or len(records) < LIVE_BATCH:
            await self._drain()
            self._undrained = 0
        else:
            await self._ebb()

    async def _ebb(self) -> None:
        """Faust's ``wait_until_ebb`` without its warning: one fold batch fills the buffer
        past Faust's 100 messages by design, so being over is this loop's normal state
        (it logged "producer buffer full" a few times a second during every backfill)."""
        buffer = self.app.producer.buffer
        if buffer.size > buffer.max_messages:
            await buffer.flush_atmost(buffer.max_messages)

    async def _drain(self) -> None:
        """Wait until every table write so far has reached the broker."""
        producer = self.app.producer
        while producer.buffer.size:
            await producer.buffer.flush()
        await producer.flush()

    def _dead_letter(self, record: RawRecord, reason: str) -> bytes:
        """The dead letter for a record no fold could take, with where it sat in the log."""
        log.warning("dead-lettered", topic=record.position.topic, reason=reason)
        context = {
            "topic": record.position.topic,
            "partition": record.position.partition,
            "offset": record.position.offset,
        }
        return dead_letter_record(record.value, reason, "worker", context=context)

    async def lag(self) -> dict[str, int]:
        """Records on each source topic not yet folded, over the partitions owned here."""
        lag = dict.fromkeys(SOURCE_TOPICS, 0)
        if self.consumer is None:
            return lag
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)  # from the last fetch: exact everywhere
            if highwater is not None:
                lag[tp.topic] += max(0, highwater - await self.consumer.position(tp))
        return lag


class _PartitionMarker:
    """Stands in for the event Faust's stores expect while a table is written: the RocksDB
    store files each write under the partition of the event being processed."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(partition=partition)


@contextmanager
def _writing_to(partition: int) -> Iterator[None]:
    marker = _PartitionMarker(partition)
    token = _current_event.set(weakref.ref(marker))  # type: ignore[arg-type]
    try:
        yield
    finally:
        _current_event.reset(token)


def _partition_of(state: State) -> int:
    """Every stream a key's events come from is the same partition number of its topic."""
    stream = next(iter(state[TRACKING_KEY]["positions"]))
    return int(stream.rpartition("/")[2])


def _newest_position(item: tuple[str, State]) -> int:
    return max(item[1].get(TRACKING_KEY, {}).get("positions", {}).values(), default=-1)
