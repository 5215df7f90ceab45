"""Faust agents: thin shells that move batches from topics through pure folds into tables.

Each agent takes a batch without acknowledging it, folds it (``hub.projector``), writes
one table value per touched key, dead-letters what could not be decoded, and only then
acknowledges, so a crash anywhere replays the batch and the folds skip what they had.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog
from faust.types import TP

from hub.log_reader import SOURCE_TOPICS
from hub.producer import dead_letter_record
from hub.projector import RawRecord, fold_batch
from hub.read_model import ReadModel, follow_changelog
from hub.topics import CUSTOMERS, DEADLETTER, ROADMAP, WORKITEMS
from projections.entities import fold_entity
from projections.tracking import TRACKING_KEY, Fold, Position, reflected_positions, refold_from

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["register", "BATCH_SIZE", "BATCH_WITHIN"]

log = structlog.get_logger(__name__)

BATCH_SIZE = 5000
BATCH_WITHIN = 0.1  # seconds a partial batch may wait


def register(app: HubApp) -> None:
    source = app.topic(WORKITEMS.name, CUSTOMERS.name, ROADMAP.name)
    app.deadletter_topic = app.topic(DEADLETTER.name)  # type: ignore[attr-defined]
    table = app.Table(
        "projections",
        default=None,
        partitions=app.hub_settings.topic_partitions,
        # Keys are the topics' message keys, byte for byte (bytes = raw serializer), so a
        # key's changelog partition is the partition its events come from.
        key_type=bytes,
        use_partitioner=True,
        help="Folded state of every entity, keyed kind/key.",
    )
    app.projections = table  # type: ignore[attr-defined]

    @table.on_recover
    async def check_recovered_state() -> None:
        await _refold_if_stale(app, table)

    app.agent(source, name="fold-entities")(_projector(app, table, fold_entity))

    app.read_model = ReadModel()  # type: ignore[attr-defined]
    changelog = table.changelog_topic.get_topic_name()

    @app.timer(interval=1.0)
    async def keep_read_model_index_warm() -> None:
        app.read_model.keep_warm()  # type: ignore[attr-defined]

    @app.task
    async def follow_projections() -> None:
        await follow_changelog(app.bootstrap_servers, changelog, app.read_model)  # type: ignore[attr-defined]


def _projector(app: HubApp, table: Any, fold: Fold) -> Callable[[Any], Any]:
    metrics = app.metrics
    # Decoded states of the keys this worker folded, so a hot key is not decoded from the
    # store on every batch. Cleared on every rebalance: ownership may have moved.
    cache: dict[str, dict[str, Any]] = {}
    app.on_partitions_revoked.connect(lambda *_, **__: cache.clear())

    def load(key: str) -> dict[str, Any] | None:
        state = cache.get(key)
        return state if state is not None else table.get(key.encode())

    async def agent(stream: Any) -> None:
        # Table writes queue in Faust's producer buffer; at its default of 100 the stream
        # stalls every 100 writes to drain it one message at a time. A batch writes up to
        # one value per touched key, so let a whole batch queue before flow control kicks in.
        app.producer.buffer.max_messages = 4 * BATCH_SIZE
        async for events in stream.noack_take(BATCH_SIZE, within=BATCH_WITHIN):
            messages = [e.message for e in events]
            records = [
                RawRecord(m.value, Position(m.topic, m.partition, m.offset)) for m in messages
            ]
            last_by_key = {_key(e.message.key): e for e in events}
            result = fold_batch(records, load, fold)
            # Position order: a changelog that loses its tail loses only the newest writes.
            for key, state in sorted(result.states.items(), key=_newest_position):
                # The store files a write under the partition of the "current" event.
                stream._set_current_event(last_by_key.get(key, events[-1]))
                table[key.encode()] = state
                cache[key] = state
            for record, reason in result.rejected:
                await _dead_letter(app, record, reason)
            for e in events:
                await stream.ack(e)
            for topic, count in Counter(m.topic for m in messages).items():
                metrics.events_folded.labels(topic).inc(count)
            if result.duplicates:
                metrics.events_duplicate.labels(messages[0].topic).inc(result.duplicates)

    agent.__name__ = agent.__qualname__ = f"fold_{table.name}"
    return agent


async def _dead_letter(app: HubApp, record: RawRecord, reason: str) -> None:
    log.warning("dead-lettered", topic=record.position.topic, reason=reason)
    app.metrics.dead_lettered.labels("worker").inc()
    context = {
        "topic": record.position.topic,
        "partition": record.position.partition,
        "offset": record.position.offset,
    }
    await app.deadletter_topic.send(  # type: ignore[attr-defined]
        value=dead_letter_record(record.value, reason, "worker", context=context)
    )


def _newest_position(item: tuple[str, dict[str, Any]]) -> int:
    return max(item[1].get(TRACKING_KEY, {}).get("positions", {}).values(), default=-1)


async def _refold_if_stale(app: HubApp, table: Any) -> None:
    """After table recovery: re-read any source partition the recovered table is behind."""
    consumer = app.consumer
    sources = [tp for tp in app.assignor.assigned_actives() if tp.topic in SOURCE_TOPICS]
    if not sources:
        return
    reflected = reflected_positions(value for _, value in table.items())
    next_offsets = {}
    for tp in sources:
        position = await consumer.position(tp)
        if position is not None:
            next_offsets[f"{tp.topic}/{tp.partition}"] = position
    for stream, offset in refold_from(reflected, next_offsets).items():
        topic, _, partition = stream.rpartition("/")
        log.warning(
            "table behind the log; re-folding",
            stream=stream,
            from_offset=offset,
            consumer_at=next_offsets[stream],
        )
        await consumer.seek(TP(topic, int(partition)), offset)


def _key(raw: bytes | str | None) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    return raw or ""
